import type { Logger } from '../observability/index.ts';

/**
 * Write-behind for records a hot path produces (a risk assessment and an audit entry per token
 * refresh): callers add and return at once; the writer stores them in batches — one round trip
 * per batch instead of one per request — in the order they were added. `flush()` writes what is
 * pending (the server calls it before it stops). A failed batch is logged and retried once with
 * the next one, then dropped, so a dead database cannot grow the queue without bound.
 */
export class BatchWriter<T> {
  readonly #write: (items: T[]) => Promise<void>;
  readonly #logger: Logger;
  readonly #name: string;
  readonly #delayMs: number;
  readonly #maxBatch: number;
  #pending: T[] = [];
  #retry: T[] = [];
  #timer: NodeJS.Timeout | undefined;
  #writing: Promise<void> = Promise.resolve();

  constructor(name: string, write: (items: T[]) => Promise<void>, logger: Logger, options: { delayMs?: number; maxBatch?: number } = {}) {
    this.#name = name;
    this.#write = write;
    this.#logger = logger;
    this.#delayMs = options.delayMs ?? 200;
    this.#maxBatch = options.maxBatch ?? 500;
  }

  add(item: T): void {
    this.#pending.push(item);
    if (this.#pending.length >= this.#maxBatch) void this.flush();
    else this.#timer ??= setTimeout(() => void this.flush(), this.#delayMs);
  }

  /** Writes what is pending, after any batch already being written. */
  flush(): Promise<void> {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    const retry = this.#retry;
    const batch = [...retry, ...this.#pending];
    this.#pending = [];
    this.#retry = [];
    if (batch.length === 0) return this.#writing;
    this.#writing = this.#writing.then(() => this.#write(batch)).catch((err) => {
      const fresh = batch.slice(retry.length);
      this.#logger.error({ err, records: batch.length, dropped: retry.length }, `${this.#name}: batch write failed${fresh.length ? '; retrying with the next batch' : ''}`);
      this.#retry = fresh;
      if (fresh.length) this.#timer ??= setTimeout(() => void this.flush(), this.#delayMs * 20);
    });
    return this.#writing;
  }
}
