import type { Logger } from '../observability/index.ts';
import { BatchWriter } from '../store/index.ts';
import type { AuditEntry, AuditLog } from './audit-log.ts';

/**
 * Audit entries written off the response path: a hot path (every token refresh) enqueues, and
 * the entries are appended to the chain in batches — one transaction per batch, not per request.
 */
export class AuditQueue {
  readonly #writer: BatchWriter<AuditEntry>;

  constructor(log: AuditLog, logger: Logger, options: { delayMs?: number; maxBatch?: number } = {}) {
    this.#writer = new BatchWriter('audit', (entries) => log.appendMany(entries), logger, options);
  }

  enqueue(entry: AuditEntry): void {
    this.#writer.add(entry);
  }

  flush(): Promise<void> {
    return this.#writer.flush();
  }
}
