-- SAML assertions already accepted, kept until they could no longer be accepted anyway (their
-- NotOnOrAfter plus the provider's clock skew): a second use of one is a replay. The primary key
-- makes the insert the check, so two instances cannot both accept the same assertion.
CREATE TABLE saml_assertion_ids (
  provider text NOT NULL,
  assertion_id text NOT NULL,
  expires_at timestamptz NOT NULL,
  PRIMARY KEY (provider, assertion_id)
);
CREATE INDEX saml_assertion_ids_expires_at ON saml_assertion_ids (expires_at);
