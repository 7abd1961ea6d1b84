export { AuditLog, prepareAuditEntry, type AuditEntry, type AuditVerification, type PreparedAuditEntry, type StoredAuditEntry } from './audit-log.ts';
