import { RateLimiterMemory, RateLimiterPostgres, RateLimiterRedis, type RateLimiterAbstract, type RateLimiterRes } from 'rate-limiter-flexible';
import type { Config } from '../config/index.ts';
import { PostgresSql, type Stores } from '../store/index.ts';

export interface ThrottleState {
  locked: boolean;
  retryAfterSeconds: number;
}

/**
 * Counts failures per key and locks the key once it has too many within the window. Shared
 * across instances through Redis, or Postgres without Redis; in memory only in the embedded
 * (single-process) mode.
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

  #state(res: RateLimiterRes | null): ThrottleState {
    if (!res || res.consumedPoints < this.#limiter.points) return { locked: false, retryAfterSeconds: 0 };
    return { locked: true, retryAfterSeconds: Math.max(1, Math.ceil(res.msBeforeNext / 1000)) };
  }

  async check(key: string): Promise<ThrottleState> {
    return this.#state(await this.#limiter.get(key));
  }

  async fail(key: string): Promise<void> {
    await this.#limiter.penalty(key, 1);
  }

  async reset(key: string): Promise<void> {
    await this.#limiter.delete(key);
  }
}

export function combine(...states: ThrottleState[]): ThrottleState {
  return {
    locked: states.some((s) => s.locked),
    retryAfterSeconds: Math.max(0, ...states.map((s) => s.retryAfterSeconds)),
  };
}

/**
 * Failed sign-ins per account (by the email typed, known or not, so lockout reveals nothing)
 * and per client IP.
 */
export class LoginThrottle {
  readonly #perAccount: AttemptLimiter;
  readonly #perIp: AttemptLimiter;

  constructor(config: Config, stores: Pick<Stores, 'sql' | 'redis'>) {
    this.#perAccount = new AttemptLimiter('login:account', config.VIGIL_LOGIN_MAX_FAILURES_PER_ACCOUNT, config.VIGIL_LOGIN_LOCKOUT_SECONDS, stores);
    this.#perIp = new AttemptLimiter('login:ip', config.VIGIL_LOGIN_MAX_FAILURES_PER_IP, config.VIGIL_LOGIN_LOCKOUT_SECONDS, stores);
  }

  async check(email: string, ip: string): Promise<ThrottleState> {
    return combine(...await Promise.all([this.#perAccount.check(email.toLowerCase()), this.#perIp.check(ip)]));
  }

  async recordFailure(email: string, ip: string): Promise<void> {
    await Promise.all([this.#perAccount.fail(email.toLowerCase()), this.#perIp.fail(ip)]);
  }

  async recordSuccess(email: string): Promise<void> {
    await this.#perAccount.reset(email.toLowerCase());
  }
}
