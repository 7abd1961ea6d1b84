-- Shared Signals, Vigil as a receiver, and the per-account risk level it transmits.
--
-- ssf_received_jtis: the `jti` of every SET accepted from a trusted transmitter, kept until its
-- `iat` is too old to be accepted anyway; the primary key makes a replay (or two copies pushed at
-- once) fail to insert, so a SET is applied at most once.
CREATE TABLE ssf_received_jtis (
  issuer text NOT NULL,
  jti text NOT NULL,
  expires_at timestamptz NOT NULL,
  PRIMARY KEY (issuer, jti)
);
CREATE INDEX ssf_received_jtis_expiry ON ssf_received_jtis (expires_at);

-- A transmitter's verdict on a device (CAEP device-compliance-change): {"compliant": bool,
-- "issuer": "…", "at": epoch ms}. Its not-compliant stands until the same transmitter says
-- compliant; the device's own reports cannot overrule it.
ALTER TABLE devices ADD COLUMN external_compliance jsonb;

-- The account's last assessed risk level (NULL = low), read with the profile at every refresh and
-- written only when it changes (that change is a CAEP risk-level-change).
ALTER TABLE risk_profiles ADD COLUMN risk_level text CHECK (risk_level IN ('low', 'medium', 'high'));
