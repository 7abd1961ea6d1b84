-- "Every grant of this person must come from an authentication at acr X made at or after
-- created_at": set by an administrator (CLI, admin API) or a trusted transmitter (SSF), whether or
-- not the person holds a live session. met_at: the first sign-in at that acr since; from then on
-- later authentications need no more than they would have (earlier ones stay refused). The
-- per-session requirements in step_up_requirements (the risk engine's) are unchanged.
CREATE TABLE account_step_up_requirements (
  account_id text PRIMARY KEY REFERENCES accounts(id) ON DELETE CASCADE,
  required_acr text NOT NULL,
  reason text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  met_at timestamptz
);
