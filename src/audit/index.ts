export { AuditLog, type AuditEntry } from './audit-log.ts';
export { AuditQueue } from './audit-queue.ts';
