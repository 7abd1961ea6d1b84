-- The continuous risk engine's memory.
--
-- One row per account holds everything the engine needs about it (recent successful events,
-- feature counts, usual time zone, recent failed logins), so a login or a refresh reads it in
-- one round trip. `version` makes the read-modify-write safe across instances: a write whose
-- version moved on is dropped (the history is statistics; the assessment itself is still stored).
CREATE TABLE risk_profiles (
  account_id text PRIMARY KEY REFERENCES accounts(id) ON DELETE CASCADE,
  history jsonb NOT NULL,
  failures jsonb NOT NULL DEFAULT '[]',
  version integer NOT NULL DEFAULT 0,
  updated_at timestamptz NOT NULL DEFAULT now()
);

-- Recent failed logins per client address (epoch ms), for the abuse-velocity signal.
CREATE TABLE risk_ip_failures (
  ip text PRIMARY KEY,
  failures jsonb NOT NULL,
  updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX risk_ip_failures_updated ON risk_ip_failures (updated_at);

-- Feature value counts over every account (the population the behaviour model compares with).
-- Instances keep it in memory and add their counts here in batches.
CREATE TABLE risk_population (
  feature text NOT NULL,
  value text NOT NULL,
  count bigint NOT NULL,
  PRIMARY KEY (feature, value)
);

-- What a grant's refreshes are compared with: the first device (proven with DPoP) and the first
-- user agent of the person (not of a client's server) seen at its refreshes, and when it last
-- refreshed. A grant is one session at one client.
CREATE TABLE risk_grant_bindings (
  grant_id text PRIMARY KEY,
  session_uid text,
  account_id text NOT NULL,
  client_id text NOT NULL,
  device_id text,
  user_agent text NOT NULL,
  last_refresh_at timestamptz NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX risk_grant_bindings_device ON risk_grant_bindings (device_id) WHERE device_id IS NOT NULL;
-- No index on last_refresh_at: every refresh moves it, and an index would stop Postgres updating
-- the row in place (HOT). The purge scans the table every ten minutes instead.

-- Every assessment, with what it was based on and why it decided what it did.
CREATE TABLE risk_assessments (
  id bigserial PRIMARY KEY,
  at timestamptz NOT NULL,
  type text NOT NULL CHECK (type IN ('login', 'refresh')),
  account_id text NOT NULL,
  session_uid text,
  client_id text NOT NULL,
  ip text NOT NULL,
  ip_is_user boolean NOT NULL,
  place jsonb,
  device_id text,
  score smallint NOT NULL,
  level text NOT NULL,
  decision jsonb NOT NULL,
  rules jsonb NOT NULL,
  signals jsonb NOT NULL
);
CREATE INDEX risk_assessments_account ON risk_assessments (account_id, at DESC);
CREATE INDEX risk_assessments_session ON risk_assessments (session_uid, at DESC) WHERE session_uid IS NOT NULL;
CREATE INDEX risk_assessments_at ON risk_assessments (at);
