-- Long-lived SCIM provisioning tokens ("secret token" mode of Entra ID and Okta): only the hash
-- of the token is kept; the token acts as its provisioning client.
CREATE TABLE scim_tokens (
  id text PRIMARY KEY,
  client_id text NOT NULL,
  token_hash text NOT NULL UNIQUE,
  created_at timestamptz NOT NULL DEFAULT now(),
  expires_at timestamptz NOT NULL,
  last_used_at timestamptz,
  revoked_at timestamptz
);
CREATE INDEX scim_tokens_client ON scim_tokens (client_id);
