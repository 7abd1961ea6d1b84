/**
 * RFC 8936 long polls held open on this instance. A held poll holds no database connection: it
 * waits here to be woken — at once when this instance queues SETs or any instance's revocation
 * arrives on the bus, otherwise by a sweep (one query for every stream with a poll held, each
 * `sweepMs`) that finds SETs other instances queued — or until its time is up.
 */
import type { Queryable } from '../store/index.ts';

interface Waiter {
  wake: () => void;
}

/** Polls of one stream held at once on an instance; one more is refused (429). */
export const HELD_POLLS_PER_STREAM = 4;

export class TooManyHeldPolls extends Error {}

export class HeldPolls {
  readonly #db: Queryable;
  readonly #maxPerStream: number;
  readonly #sweepMs: number;
  readonly #waiting = new Map<string, Set<Waiter>>();
  #sweep: NodeJS.Timeout | undefined;
  #closed = false;

  constructor(db: Queryable, options: { maxPerStream: number; sweepMs?: number }) {
    this.#db = db;
    this.#maxPerStream = options.maxPerStream;
    this.#sweepMs = options.sweepMs ?? 1000;
  }

  /**
   * Waits until woken, `untilMs` (epoch ms), or the request's end (`signal`). Throws
   * TooManyHeldPolls when the stream already has as many polls held as it may.
   */
  async hold(streamId: string, untilMs: number, signal: { aborted: boolean; onAbort?: (f: () => void) => void }): Promise<void> {
    // Shutting down: a poll answers with what there is, so that the drain does not wait for it.
    if (this.#closed) return;
    let waiters = this.#waiting.get(streamId);
    if (!waiters) this.#waiting.set(streamId, waiters = new Set());
    if (waiters.size >= this.#maxPerStream) throw new TooManyHeldPolls(`at most ${this.#maxPerStream} polls of a stream are held at once`);
    let timer: NodeJS.Timeout | undefined;
    const waiter: Waiter = { wake: () => {} };
    try {
      await new Promise<void>((resolve) => {
        waiter.wake = resolve;
        waiters.add(waiter);
        timer = setTimeout(resolve, Math.max(0, untilMs - Date.now()));
        signal.onAbort?.(resolve);
        this.#startSweep();
      });
    } finally {
      clearTimeout(timer);
      waiters.delete(waiter);
      if (waiters.size === 0 && this.#waiting.get(streamId) === waiters) this.#waiting.delete(streamId);
      if (this.#waiting.size === 0) this.#stopSweep();
    }
  }

  /** SETs may be ready: the polls held for these streams (all, without a list) look again. */
  wake(streamIds?: Iterable<string>): void {
    const ids = streamIds ? [...streamIds] : [...this.#waiting.keys()];
    for (const id of ids) for (const waiter of this.#waiting.get(id) ?? []) waiter.wake();
  }

  /** How many polls are held now (for the stream, or all). */
  held(streamId?: string): number {
    if (streamId !== undefined) return this.#waiting.get(streamId)?.size ?? 0;
    let n = 0;
    for (const waiters of this.#waiting.values()) n += waiters.size;
    return n;
  }

  /** Every held poll answers now, and none is held from now on (shutdown). */
  close(): void {
    this.#closed = true;
    this.#stopSweep();
    this.wake();
  }

  #startSweep(): void {
    if (this.#sweep) return;
    this.#sweep = setInterval(() => {
      const ids = [...this.#waiting.keys()];
      if (ids.length === 0) return;
      this.#db.query<{ stream_id: string }>(
        "SELECT DISTINCT stream_id FROM ssf_events WHERE status = 'pending' AND stream_id = ANY ($1::text[])", [ids],
      ).then(({ rows }) => this.wake(rows.map((r) => r.stream_id)), () => {});
    }, this.#sweepMs);
    this.#sweep.unref();
  }

  #stopSweep(): void {
    if (this.#sweep) clearInterval(this.#sweep);
    this.#sweep = undefined;
  }
}
