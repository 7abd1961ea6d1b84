-- An emailed link may also be an enrolment link: a person whose account exists (provisioned
-- through SCIM) but who has no way to sign in yet chooses their sign-in methods with it.
ALTER TABLE email_links DROP CONSTRAINT email_links_kind_check;
ALTER TABLE email_links ADD CONSTRAINT email_links_kind_check CHECK (kind IN ('password_reset', 'email_verification', 'enrolment'));
