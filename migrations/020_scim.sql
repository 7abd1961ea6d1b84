-- SCIM 2.0 provisioning: what a provisioning client stored about an account beyond accounts'
-- own columns (externalId, name, emails, the enterprise extension), and whether it deleted it.
CREATE TABLE scim_users (
  account_id text PRIMARY KEY REFERENCES accounts (id) ON DELETE CASCADE,
  external_id text,
  attributes jsonb NOT NULL DEFAULT '{}',
  deleted boolean NOT NULL DEFAULT false,
  updated_at timestamptz NOT NULL DEFAULT now()
);
