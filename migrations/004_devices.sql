-- Registered devices: each belongs to a person and holds a public key (EC P-256 or Ed25519).
-- jkt is the key's RFC 7638 thumbprint (one key, one device). The last accepted posture report
-- is kept with its time; a report must be newer than the last one (replay protection).
CREATE TABLE devices (
  id text PRIMARY KEY,
  account_id text NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
  name text NOT NULL,
  public_jwk jsonb NOT NULL,
  jkt text NOT NULL UNIQUE,
  created_at timestamptz NOT NULL DEFAULT now(),
  last_posture jsonb,
  last_report_at timestamptz,
  last_report_jti text,
  last_report_source text CHECK (last_report_source IS NULL OR last_report_source IN ('device', 'mdm'))
);
CREATE INDEX devices_account ON devices (account_id);
