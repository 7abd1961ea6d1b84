-- TOTP: one per account; confirmed_at is null while enrolment waits for the first correct code.
CREATE TABLE totp_factors (
  account_id text PRIMARY KEY REFERENCES accounts(id) ON DELETE CASCADE,
  secret_sealed text NOT NULL,
  confirmed_at timestamptz,
  last_time_step bigint NOT NULL DEFAULT 0,
  created_at timestamptz NOT NULL DEFAULT now()
);

-- One-time recovery codes, stored as keyed hashes.
CREATE TABLE recovery_codes (
  account_id text NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
  code_hash text NOT NULL,
  used_at timestamptz,
  PRIMARY KEY (account_id, code_hash)
);

-- WebAuthn credentials (passkeys and security keys).
CREATE TABLE webauthn_credentials (
  id text PRIMARY KEY,
  account_id text NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
  name text NOT NULL,
  public_key text NOT NULL,
  sign_count bigint NOT NULL DEFAULT 0,
  transports text[] NOT NULL DEFAULT '{}',
  device_type text NOT NULL,
  backed_up boolean NOT NULL DEFAULT false,
  aaguid text,
  created_at timestamptz NOT NULL DEFAULT now(),
  last_used_at timestamptz
);
CREATE INDEX webauthn_credentials_account ON webauthn_credentials (account_id);

-- Short-lived ceremony state (WebAuthn challenges, a password checked before its second factor).
CREATE TABLE mfa_challenges (
  id text PRIMARY KEY,
  account_id text,
  purpose text NOT NULL,
  data jsonb NOT NULL,
  expires_at timestamptz NOT NULL
);
CREATE INDEX mfa_challenges_expires_at ON mfa_challenges (expires_at);

-- "This session must reach acr X before its next token": set by policy (the risk engine), cleared by a step-up.
CREATE TABLE step_up_requirements (
  session_uid text PRIMARY KEY,
  account_id text NOT NULL,
  required_acr text NOT NULL,
  reason text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX step_up_requirements_account ON step_up_requirements (account_id);

-- Where and on what each session was seen (the account page and the admin console show it).
CREATE TABLE session_activity (
  session_uid text PRIMARY KEY,
  account_id text NOT NULL,
  user_agent text NOT NULL DEFAULT '',
  ip text NOT NULL DEFAULT '',
  created_at timestamptz NOT NULL DEFAULT now(),
  last_seen_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX session_activity_account ON session_activity (account_id, last_seen_at DESC);
