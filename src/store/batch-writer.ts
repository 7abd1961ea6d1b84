import type { Logger } from '../observability/index.ts';

/**
 * Write-behind for records a hot path produces (a risk assessment and an audit entry per token
 * refresh): callers add and return at once; the writer stores them in batches — one round trip
 * per batch instead of one per request — in the order they were added. `flush()` writes what is
 * pending; `drain()` does so when the server stops. A failed batch is logged and retried once with
 * the next one, then dropped, so a dead database cannot grow the queue without bound.
 *
 * `prepare` turns an item into what is kept until its batch is written (say, its row as JSON
 * text): done when the item is added, it spreads that work over the requests instead of one
 * pause at the flush, and what waits is a flat string instead of the item's object graph, which
 * would otherwise outlive a few young-generation collections and be copied into the old one.
 */
export class BatchWriter<T, Kept = T> {
  readonly #write: (items: Kept[]) => Promise<void>;
  readonly #prepare: (item: T) => Kept;
  readonly #logger: Logger;
  readonly #name: string;
  readonly #delayMs: number;
  readonly #maxBatch: number;
  #pending: Kept[] = [];
  #retry: Kept[] = [];
  #timer: NodeJS.Timeout | undefined;
  #writing: Promise<void> = Promise.resolve();

  constructor(
    name: string, write: (items: Kept[]) => Promise<void>, logger: Logger,
    options: { delayMs?: number; maxBatch?: number; prepare?: (item: T) => Kept } = {},
  ) {
    this.#name = name;
    this.#write = write;
    this.#prepare = options.prepare ?? ((item) => item as unknown as Kept);
    this.#logger = logger;
    this.#delayMs = options.delayMs ?? 200;
    this.#maxBatch = options.maxBatch ?? 500;
  }

  add(item: T): void {
    this.#pending.push(this.#prepare(item));
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

  /**
   * Writes `item` at once, in one batch behind what is pending (in the order added), and resolves
   * once it is stored: for a record the caller must see written (a sign-in's audit entry), which
   * then carries the queue's records instead of a batch of their own. Its failure is the caller's;
   * the records it carried are retried with the next batch, as `flush` does.
   */
  writeNow(item: T): Promise<void> {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    const retry = this.#retry;
    const fresh = this.#pending;
    const batch = [...retry, ...fresh, this.#prepare(item)];
    this.#pending = [];
    this.#retry = [];
    const written = this.#writing.then(() => this.#write(batch));
    this.#writing = written.catch((err) => {
      this.#logger.error({ err, records: batch.length, dropped: retry.length }, `${this.#name}: write failed${fresh.length ? '; retrying the queued records with the next batch' : ''}`);
      this.#retry = [...fresh, ...this.#retry];
      if (this.#retry.length) this.#timer ??= setTimeout(() => void this.flush(), this.#delayMs * 20);
    });
    return written;
  }

  /**
   * Writes everything pending before the server stops: a batch that fails is tried once more at
   * once, since no next batch will come to carry it.
   */
  async drain(): Promise<void> {
    await this.flush();
    if (this.#retry.length) await this.flush();
  }
}
