-- Federation with upstream identity providers (OpenID Connect, SAML, LDAP).

-- A person of an upstream provider, linked to a Vigil account: by just-in-time provisioning
-- (`provisioned`: the provider's group mapping keeps the account's roles) or after the person
-- proved the existing account.
CREATE TABLE federated_identities (
  provider text NOT NULL,
  subject text NOT NULL,
  account_id text NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
  email text,
  provisioned boolean NOT NULL DEFAULT false,
  linked_at timestamptz NOT NULL DEFAULT now(),
  last_sign_in_at timestamptz,
  PRIMARY KEY (provider, subject)
);
CREATE INDEX federated_identities_account_id ON federated_identities (account_id);

-- What the console shows of each provider.
CREATE TABLE federation_status (
  provider text PRIMARY KEY,
  last_sign_in_at timestamptz,
  last_error text,
  last_error_at timestamptz
);

-- Which Vigil sessions began with an upstream sign-in: the upstream's session events end them.
CREATE TABLE federated_sessions (
  session_uid text PRIMARY KEY,
  provider text NOT NULL,
  subject text NOT NULL,
  upstream_session text,
  account_id text NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX federated_sessions_provider_subject ON federated_sessions (provider, subject);
CREATE INDEX federated_sessions_created_at ON federated_sessions (created_at);
