-- Whether the account's email address was proved by its owner (the OIDC email_verified claim).
-- Existing accounts were created by an administrator with whatever address was typed: not proved.
ALTER TABLE accounts ADD COLUMN email_verified boolean NOT NULL DEFAULT false;

-- Emailed links (a password reset, an address check): only the SHA-256 of the link's token is
-- kept. `email` is the address the link was sent to: a link proves that address only while it is
-- still the account's. A new link of a kind replaces the account's older ones of that kind.
CREATE TABLE email_links (
  token_hash text PRIMARY KEY,
  kind text NOT NULL CHECK (kind IN ('password_reset', 'email_verification')),
  account_id text NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
  email text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  expires_at timestamptz NOT NULL,
  used_at timestamptz
);
CREATE INDEX email_links_account ON email_links (account_id, kind);
CREATE INDEX email_links_expires ON email_links (expires_at);
