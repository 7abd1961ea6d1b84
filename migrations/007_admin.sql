-- The admin API's session list: newest activity first, each session with its grants' risk bindings.
CREATE INDEX session_activity_last_seen ON session_activity (last_seen_at DESC, session_uid DESC);
CREATE INDEX risk_grant_bindings_session ON risk_grant_bindings (session_uid) WHERE session_uid IS NOT NULL;
-- Audit queries by who acted, newest first.
CREATE INDEX audit_log_actor ON audit_log (actor, seq DESC);
