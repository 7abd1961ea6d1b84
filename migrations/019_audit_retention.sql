-- Retention of the audit trail: its oldest part may be removed, by Vigil's retention only, and
-- each removal leaves a checkpoint naming the last removed entry (its seq and hash), MACed with a
-- key derived from the master key, so `vigil audit verify` checks the kept part from there.
CREATE TABLE audit_checkpoints (
  id bigserial PRIMARY KEY,
  created_at timestamptz NOT NULL,
  last_removed_seq bigint NOT NULL,
  last_removed_hash text NOT NULL,
  removed bigint NOT NULL,
  removed_before timestamptz NOT NULL,
  mac text NOT NULL
);
-- DELETE passes only in a transaction that set vigil.audit_retention (the retention's own); UPDATE and TRUNCATE never.
CREATE OR REPLACE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN IF TG_OP = 'DELETE' AND TG_TABLE_NAME = 'audit_log' AND current_setting('vigil.audit_retention', true) = 'on' THEN RETURN OLD; END IF; RAISE EXCEPTION '% is append-only (% refused)', TG_TABLE_NAME, TG_OP USING ERRCODE = 'insufficient_privilege'; END $$;
CREATE TRIGGER audit_checkpoints_no_update_or_delete BEFORE UPDATE OR DELETE ON audit_checkpoints
  FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();
CREATE TRIGGER audit_checkpoints_no_truncate BEFORE TRUNCATE ON audit_checkpoints
  FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only();
