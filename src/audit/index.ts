export { AuditLog, prepareAuditEntry, type AuditEntry, type PreparedAuditEntry, type StoredAuditEntry } from './audit-log.ts';
