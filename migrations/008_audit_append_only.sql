-- The audit trail is append-only for Vigil itself: an UPDATE, DELETE or TRUNCATE of audit_log
-- fails. Someone who owns the database can still drop the trigger; the hash chain is what shows
-- that (`vigil audit verify`).
-- (One line: the migration runner splits statements at semicolons that end a line.)
CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'audit_log is append-only (% refused)', TG_OP USING ERRCODE = 'insufficient_privilege'; END $$;
CREATE TRIGGER audit_log_no_update_or_delete BEFORE UPDATE OR DELETE ON audit_log
  FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
  FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only();
