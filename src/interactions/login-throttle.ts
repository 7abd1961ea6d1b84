import type { Redis } from 'ioredis';
import { RateLimiterMemory, RateLimiterRedis, type RateLimiterAbstract, type RateLimiterRes } from 'rate-limiter-flexible';
import type { Config } from '../config/index.ts';

export interface ThrottleState {
  locked: boolean;
  retryAfterSeconds: number;
}

/**
 * Failed sign-ins counted per account (by the email typed, known or not, so lockout reveals
 * nothing) and per client IP. Shared across instances through Redis when it is configured.
 */
export class LoginThrottle {
  readonly #perAccount: RateLimiterAbstract;
  readonly #perIp: RateLimiterAbstract;

  constructor(config: Config, redis?: Redis) {
    const make = (keyPrefix: string, points: number) => redis
      ? new RateLimiterRedis({ storeClient: redis, keyPrefix, points, duration: config.VIGIL_LOGIN_LOCKOUT_SECONDS, useRedisPackage: false })
      : new RateLimiterMemory({ keyPrefix, points, duration: config.VIGIL_LOGIN_LOCKOUT_SECONDS });
    this.#perAccount = make('vigil:login:account', config.VIGIL_LOGIN_MAX_FAILURES_PER_ACCOUNT);
    this.#perIp = make('vigil:login:ip', config.VIGIL_LOGIN_MAX_FAILURES_PER_IP);
  }

  static #state(limiter: RateLimiterAbstract, res: RateLimiterRes | null): ThrottleState {
    if (!res || res.consumedPoints < limiter.points) return { locked: false, retryAfterSeconds: 0 };
    return { locked: true, retryAfterSeconds: Math.max(1, Math.ceil(res.msBeforeNext / 1000)) };
  }

  async check(email: string, ip: string): Promise<ThrottleState> {
    const [account, byIp] = await Promise.all([this.#perAccount.get(email.toLowerCase()), this.#perIp.get(ip)]);
    const a = LoginThrottle.#state(this.#perAccount, account);
    const b = LoginThrottle.#state(this.#perIp, byIp);
    return { locked: a.locked || b.locked, retryAfterSeconds: Math.max(a.retryAfterSeconds, b.retryAfterSeconds) };
  }

  async recordFailure(email: string, ip: string): Promise<void> {
    await Promise.all([
      this.#perAccount.penalty(email.toLowerCase(), 1),
      this.#perIp.penalty(ip, 1),
    ]);
  }

  async recordSuccess(email: string): Promise<void> {
    await this.#perAccount.delete(email.toLowerCase());
  }
}
