import type { Logger } from '../observability/index.ts';
import type { AuditEntry, AuditLog } from './audit-log.ts';

/**
 * Audit entries written off the response path: a hot path (every token refresh) enqueues, and
 * the queue appends them in batches — one transaction per batch instead of one per request.
 * `flush()` writes everything pending (the server calls it before it stops).
 */
export class AuditQueue {
  readonly #log: AuditLog;
  readonly #logger: Logger;
  readonly #delayMs: number;
  readonly #maxBatch: number;
  #pending: AuditEntry[] = [];
  #timer: NodeJS.Timeout | undefined;
  #writing: Promise<void> = Promise.resolve();

  constructor(log: AuditLog, logger: Logger, options: { delayMs?: number; maxBatch?: number } = {}) {
    this.#log = log;
    this.#logger = logger;
    this.#delayMs = options.delayMs ?? 50;
    this.#maxBatch = options.maxBatch ?? 500;
  }

  enqueue(entry: AuditEntry): void {
    this.#pending.push(entry);
    if (this.#pending.length >= this.#maxBatch) void this.flush();
    else this.#timer ??= setTimeout(() => void this.flush(), this.#delayMs);
  }

  /** Writes what is pending (after any batch already being written, so order is kept). */
  flush(): Promise<void> {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    const batch = this.#pending;
    this.#pending = [];
    if (batch.length === 0) return this.#writing;
    this.#writing = this.#writing.then(() => this.#log.appendMany(batch)).catch((err) => {
      this.#logger.error({ err, entries: batch.length }, 'audit batch write failed');
    });
    return this.#writing;
  }
}
