-- Just-in-time elevation: roles a person may ask for (eligibility) and the requests for them.
-- An elevation is in force while status = 'active' and expires_at is in the future; the expiry
-- sweep turns it 'expired' afterwards (only to announce it: the time alone decides).
CREATE TABLE role_eligibility (
  account_id text NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
  role text NOT NULL,
  granted_by text NOT NULL,
  granted_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (account_id, role)
);

CREATE TABLE elevations (
  id text PRIMARY KEY,
  account_id text NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
  role text NOT NULL,
  reason text NOT NULL,
  duration_seconds integer NOT NULL CHECK (duration_seconds > 0),
  status text NOT NULL CHECK (status IN ('pending', 'active', 'denied', 'revoked', 'expired')),
  requested_by text NOT NULL,
  requested_at timestamptz NOT NULL DEFAULT now(),
  approvals_needed integer NOT NULL DEFAULT 0 CHECK (approvals_needed >= 0),
  activated_at timestamptz,
  expires_at timestamptz,
  ended_at timestamptz,
  ended_by text,
  end_reason text
);
-- One open request or elevation per person and role.
CREATE UNIQUE INDEX elevations_open_key ON elevations (account_id, role) WHERE status IN ('pending', 'active');
CREATE INDEX elevations_active_idx ON elevations (expires_at) WHERE status = 'active';
CREATE INDEX elevations_account_idx ON elevations (account_id, requested_at DESC);
CREATE INDEX elevations_requested_idx ON elevations (requested_at DESC);
