-- Revoking a client's tokens (`revokeByClientId`: a client deleted, or its tokens revoked by an
-- administrator) and forgetting its grant bindings (`forgetClient`) read every row of their table
-- without an index: 1.3 s at 500,000 grants, ~15 s at 5 M.
--
-- The adapter now stores each row's client in a column of its own. Its index is written once per
-- row (a token is inserted, consumed in place, never moved to another client): a consume changes
-- no indexed column and stays a HOT update.
-- Building an index reads the whole table and holds its writes (the token path) meanwhile: 10 s
-- at 1.4 M rows, minutes at full scale. On a large database, run these statements beforehand
-- with CREATE INDEX CONCURRENTLY (docs/performance.md): they are skipped here then.
ALTER TABLE oidc_payloads ADD COLUMN IF NOT EXISTS client_id text;
CREATE INDEX IF NOT EXISTS oidc_payloads_client ON oidc_payloads (model, client_id) WHERE client_id IS NOT NULL;
-- Rows stored before this migration are not rewritten (that would copy the whole table): they
-- are found by the payload's client id, through an index of those rows only. Every row written
-- from now on that names a client has the column, so this index stops growing, and empties as
-- the old rows expire (30 days at most, VIGIL_GRANT_TTL); a later migration can drop it.
CREATE INDEX IF NOT EXISTS oidc_payloads_client_before_033 ON oidc_payloads (model, (payload->>'clientId'))
  WHERE client_id IS NULL AND payload ? 'clientId';
-- A binding's client never changes (its updates move last_refresh_at, fill device_id and
-- user_agent): the index is written when a grant first refreshes, and the updates stay HOT.
CREATE INDEX IF NOT EXISTS risk_grant_bindings_client ON risk_grant_bindings (client_id);
