-- Accounts: people who sign in. Email is unique regardless of case.
CREATE TABLE accounts (
  id text PRIMARY KEY,
  email text NOT NULL,
  display_name text NOT NULL DEFAULT '',
  roles text[] NOT NULL DEFAULT '{}',
  disabled boolean NOT NULL DEFAULT false,
  password_hash text,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX accounts_email_key ON accounts (lower(email));

-- oidc-provider models. Token ids are stored as SHA-256 hashes (see src/store/payload-codec.ts).
CREATE TABLE oidc_payloads (
  model text NOT NULL,
  id text NOT NULL,
  payload jsonb NOT NULL,
  grant_id text,
  uid text,
  user_code text,
  account_id text,
  expires_at timestamptz,
  consumed_at timestamptz,
  PRIMARY KEY (model, id)
);
CREATE INDEX oidc_payloads_grant_id ON oidc_payloads (grant_id) WHERE grant_id IS NOT NULL;
CREATE INDEX oidc_payloads_uid ON oidc_payloads (model, uid) WHERE uid IS NOT NULL;
CREATE INDEX oidc_payloads_user_code ON oidc_payloads (model, user_code) WHERE user_code IS NOT NULL;
CREATE INDEX oidc_payloads_account ON oidc_payloads (account_id) WHERE account_id IS NOT NULL;
CREATE INDEX oidc_payloads_expires_at ON oidc_payloads (expires_at) WHERE expires_at IS NOT NULL;

-- Signing keys. A key is published from created_at, signs from signs_from, stops signing at
-- retired_at and leaves the JWKS at unpublish_at (after every token it signed has expired).
CREATE TABLE signing_keys (
  kid text PRIMARY KEY,
  alg text NOT NULL,
  public_jwk jsonb NOT NULL,
  private_jwk_sealed text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  signs_from timestamptz NOT NULL,
  retired_at timestamptz,
  unpublish_at timestamptz
);

-- Resource servers (RFC 8707 resource indicators) and the format of the tokens issued for them.
CREATE TABLE resource_servers (
  identifier text PRIMARY KEY,
  client_id text NOT NULL,
  scopes text[] NOT NULL DEFAULT '{}',
  token_format text NOT NULL CHECK (token_format IN ('jwt', 'opaque')),
  access_token_ttl integer CHECK (access_token_ttl IS NULL OR access_token_ttl > 0),
  created_at timestamptz NOT NULL DEFAULT now()
);

-- Append-only audit trail; each entry's hash covers the previous entry's hash.
CREATE TABLE audit_log (
  seq bigserial PRIMARY KEY,
  at timestamptz NOT NULL DEFAULT now(),
  actor text NOT NULL,
  action text NOT NULL,
  subject text,
  ip text,
  outcome text NOT NULL,
  details jsonb NOT NULL DEFAULT '{}',
  prev_hash text NOT NULL,
  hash text NOT NULL
);
CREATE INDEX audit_log_at ON audit_log (at);
