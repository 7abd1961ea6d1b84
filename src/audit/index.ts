export { AuditLog, type AuditEntry, type StoredAuditEntry } from './audit-log.ts';
