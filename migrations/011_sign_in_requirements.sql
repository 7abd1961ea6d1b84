-- "This account's next sign-in must reach acr X": set when a trusted security tool reports its
-- credentials compromised (RISC credential-compromise). Cleared by the first sign-in that meets it.
CREATE TABLE sign_in_requirements (
  account_id text PRIMARY KEY REFERENCES accounts(id) ON DELETE CASCADE,
  required_acr text NOT NULL,
  reason text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now()
);
