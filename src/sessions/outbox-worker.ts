/**
 * Delivery from a durable outbox table, shared by back-channel logouts and Security Event Tokens:
 * the worker of any instance claims due rows (`FOR UPDATE SKIP LOCKED`, with a lease so that a
 * crashed worker's rows come back), sends each, retries a failure with exponential backoff, and
 * marks it `failed` after `maxAttempts` (or at once when the receiver says a retry cannot help),
 * leaving the failure for administrators to see. The table needs the columns `id`, `status`
 * (pending|delivered|failed), `attempts`, `next_attempt_at`, `last_error`, `delivered_at`.
 */
import type { Logger } from '../observability/index.ts';
import type { Queryable } from '../store/index.ts';

export interface OutboxRow {
  id: string;
  attempts: number;
}

/** Thrown by `send` when retrying cannot help (the receiver refused the message itself). */
export class PermanentDeliveryError extends Error {
  override name = 'PermanentDeliveryError';
}

export interface DeliveryOptions {
  maxAttempts?: number;
  /** The first retry's delay; each next one doubles, up to an hour. */
  baseDelayMs?: number;
  pollMs?: number;
  batch?: number;
}

export interface OutboxSpec<R extends OutboxRow> {
  /** The table (a constant of the code, never input). */
  table: string;
  /** A further SQL condition on the due rows, over the table's columns (a constant of the code). */
  eligible?: string;
  /** How the log names this kind of delivery. */
  label: string;
  send(row: R): Promise<void>;
  /** Fields for the log line of a failure (never a token). */
  describe(row: R): Record<string, unknown>;
}

const MAX_DELAY_MS = 3_600_000;
const LEASE_SECONDS = 60;

export class OutboxWorker<R extends OutboxRow> {
  readonly #db: Queryable;
  readonly #logger: Logger;
  readonly #spec: OutboxSpec<R>;
  readonly #maxAttempts: number;
  readonly #baseDelayMs: number;
  readonly #pollMs: number;
  readonly #batch: number;
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<void> | undefined;
  #again = false;
  #stopped = false;

  constructor(db: Queryable, logger: Logger, spec: OutboxSpec<R>, options: DeliveryOptions = {}) {
    this.#db = db;
    this.#logger = logger;
    this.#spec = spec;
    this.#maxAttempts = options.maxAttempts ?? 8;
    this.#baseDelayMs = options.baseDelayMs ?? 2000;
    this.#pollMs = options.pollMs ?? 1000;
    this.#batch = options.batch ?? 20;
  }

  start(): void {
    this.#timer = setInterval(() => this.kick(), this.#pollMs);
    this.#timer.unref();
    this.kick();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#timer) clearInterval(this.#timer);
    await this.#running;
  }

  /** Delivers what is due now (a run already going runs once more after it). */
  kick(): void {
    if (this.#stopped) return;
    if (this.#running) {
      this.#again = true;
      return;
    }
    this.#running = this.#drain().catch((err) => this.#logger.warn({ err }, `${this.#spec.label}: could not read the queue`))
      .finally(() => {
        this.#running = undefined;
        if (this.#again) {
          this.#again = false;
          this.kick();
        }
      });
  }

  async #drain(): Promise<void> {
    const { table, eligible } = this.#spec;
    for (;;) {
      const { rows } = await this.#db.query<R>(
        `UPDATE ${table} SET attempts = attempts + 1, next_attempt_at = now() + make_interval(secs => $2)
         WHERE id IN (SELECT id FROM ${table} WHERE status = 'pending' AND next_attempt_at <= now() ${eligible ? `AND (${eligible})` : ''}
                      ORDER BY next_attempt_at, id LIMIT $1 FOR UPDATE SKIP LOCKED)
         RETURNING *`,
        [this.#batch, LEASE_SECONDS],
      );
      if (rows.length === 0 || this.#stopped) return;
      await Promise.all(rows.map((row) => this.#deliver({ ...row, id: String(row.id) })));
    }
  }

  async #deliver(row: R): Promise<void> {
    let error: string | undefined;
    let permanent = false;
    try {
      await this.#spec.send(row);
    } catch (err) {
      error = (err as Error).message.slice(0, 500) || 'delivery failed';
      permanent = err instanceof PermanentDeliveryError;
    }
    if (error === undefined) {
      await this.finish(row.id, 'delivered', null);
      return;
    }
    const giveUp = permanent || row.attempts >= this.#maxAttempts;
    this.#logger.warn({ ...this.#spec.describe(row), attempt: row.attempts, error, giveUp }, `${this.#spec.label} failed`);
    if (giveUp) await this.finish(row.id, 'failed', error);
    else {
      const delay = Math.min(this.#baseDelayMs * 2 ** (row.attempts - 1), MAX_DELAY_MS);
      await this.#db.query(
        `UPDATE ${this.#spec.table} SET last_error = $2, next_attempt_at = now() + make_interval(secs => $3) WHERE id = $1`,
        [row.id, error, delay / 1000],
      );
    }
  }

  /** Ends a row's delivery (also for rows settled outside the worker). */
  async finish(id: string, status: 'delivered' | 'failed', error: string | null): Promise<void> {
    await this.#db.query(
      `UPDATE ${this.#spec.table} SET status = $2, last_error = coalesce($3, last_error), delivered_at = CASE WHEN $2 = 'delivered' THEN now() END WHERE id = $1`,
      [id, status, error],
    );
  }
}
