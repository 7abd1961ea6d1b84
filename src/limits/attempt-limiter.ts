import { RateLimiterMemory, RateLimiterPostgres, RateLimiterRedis, RateLimiterRes, type RateLimiterAbstract } from 'rate-limiter-flexible';
import { PostgresSql, type Stores } from '../store/index.ts';

export interface ThrottleState {
  locked: boolean;
  retryAfterSeconds: number;
}

/** An attempt reserved before the check it guards: `allowed` false when the key was over its limit. */
export interface Reservation extends ThrottleState {
  allowed: boolean;
  /** Attempts counted in this window, this one included. */
  counted: number;
}

const OPEN: ThrottleState = { locked: false, retryAfterSeconds: 0 };

function waitOf(res: RateLimiterRes): number {
  return Math.max(1, Math.ceil(res.msBeforeNext / 1000));
}

/**
 * Counts attempts per key within a window and locks the key once it has too many. Shared across
 * instances through Redis, or Postgres without Redis; in memory only in the embedded
 * (single-process) mode.
 *
 * Two ways to count. `reserve` counts an attempt atomically *before* the check it guards (and
 * `refund` gives it back when the check passed): a burst of concurrent attempts can never run more
 * checks than the limit, on any number of instances. `check` + `fail` count only failures after
 * the fact, for checks whose secret cannot be guessed at any rate (bearer tokens, signatures).
 */
export class AttemptLimiter {
  readonly #limiter: RateLimiterAbstract;

  constructor(name: string, points: number, durationSeconds: number, stores: Pick<Stores, 'sql' | 'redis'>) {
    const keyPrefix = `vigil:${name}`;
    const options = { keyPrefix, points, duration: durationSeconds };
    if (stores.redis) this.#limiter = new RateLimiterRedis({ ...options, storeClient: stores.redis, useRedisPackage: false });
    else if (stores.sql instanceof PostgresSql) {
      this.#limiter = new RateLimiterPostgres({ ...options, storeClient: stores.sql.pool, storeType: 'pool', tableName: 'login_rate_limits', tableCreated: true });
    } else this.#limiter = new RateLimiterMemory(options);
  }

  get limit(): number {
    return this.#limiter.points;
  }

  /** The key's state without counting anything. */
  async check(key: string): Promise<ThrottleState> {
    const res = await this.#limiter.get(key);
    if (!res || res.consumedPoints < this.#limiter.points) return OPEN;
    return { locked: true, retryAfterSeconds: waitOf(res) };
  }

  /** Attempts counted for the key in the current window. */
  async counted(key: string): Promise<number> {
    return (await this.#limiter.get(key))?.consumedPoints ?? 0;
  }

  /** Counts one attempt now, atomically: allowed while the count stays within the limit. */
  async reserve(key: string): Promise<Reservation> {
    try {
      const res = await this.#limiter.consume(key, 1);
      return { allowed: true, locked: false, retryAfterSeconds: 0, counted: res.consumedPoints };
    } catch (err) {
      if (!(err instanceof RateLimiterRes)) throw err;
      return { allowed: false, locked: true, retryAfterSeconds: waitOf(err), counted: err.consumedPoints };
    }
  }

  /** Gives back an attempt `reserve` counted, once its check passed. */
  async refund(key: string): Promise<void> {
    await this.#limiter.reward(key, 1);
  }

  /** Counts one failure after the fact (see the class comment for when that is enough). */
  async fail(key: string): Promise<void> {
    await this.#limiter.penalty(key, 1);
  }

  async reset(key: string): Promise<void> {
    await this.#limiter.delete(key);
  }
}
