-- Invitations: an administrator invites an email address; the person follows the emailed link and
-- enrols (passkey, or password with TOTP). The link's token is stored only as its SHA-256
-- (token_hash). account_id is the id the account gets at enrolment (a passkey is registered for it
-- before the account exists); no account row exists until then. A link is single use (used_at),
-- can be revoked (revoked_at) and expires (expires_at); lapsed_at marks an expired invitation
-- closed when the email is invited again, so at most one invitation per email is open.
CREATE TABLE invitations (
  id text PRIMARY KEY,
  token_hash text NOT NULL UNIQUE,
  email text NOT NULL,
  display_name text NOT NULL DEFAULT '',
  roles text[] NOT NULL DEFAULT '{}',
  account_id text NOT NULL UNIQUE,
  invited_by text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  expires_at timestamptz NOT NULL,
  used_at timestamptz,
  revoked_at timestamptz,
  lapsed_at timestamptz
);
CREATE UNIQUE INDEX invitations_open_email ON invitations (lower(email)) WHERE used_at IS NULL AND revoked_at IS NULL AND lapsed_at IS NULL;
CREATE INDEX invitations_created_at ON invitations (created_at DESC);
