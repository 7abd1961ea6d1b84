import { createHash } from 'node:crypto';
import type { Config } from '../config/index.ts';
import { AttemptLimiter, reserveAll } from '../limits/index.ts';
import type { Stores } from '../store/index.ts';

/** Which limit acted, as the audit trail names it. */
export type LoginLimit = 'account_address' | 'address' | 'account';

export interface LoginAttempt {
  /** A hard limit refused the attempt before any password was checked. */
  refused?: { limit: Exclude<LoginLimit, 'account'>; retryAfterSeconds: number };
  /** Failed sign-ins for the account from every address reached the attack threshold. */
  underAttack: boolean;
}

/** Keys stay short and fixed-length whatever was typed (Postgres keeps them in a varchar(255)). */
function digest(...parts: string[]): string {
  return createHash('sha256').update(parts.join('\n')).digest('base64url');
}

/**
 * The password step's limits (by the email typed, known or not, so a limit reveals nothing):
 * - per account *and* address, a hard lock: a guesser is stopped without locking the person out
 *   from their own address;
 * - per address, a hard lock across accounts (credential stuffing from one place);
 * - per account from every address, a soft limit: past it the account is under attack and a right
 *   password alone no longer signs in (the login route then asks for the second factor).
 * The hard limits are reserved atomically before the password is checked, so no burst, on any
 * number of instances, checks more passwords than the limit; the reservation is given back when
 * the password was right.
 */
export class LoginThrottle {
  readonly #perAccountAddress: AttemptLimiter;
  readonly #perAddress: AttemptLimiter;
  readonly #perAccount: AttemptLimiter;

  constructor(config: Config, stores: Pick<Stores, 'sql' | 'redis'>) {
    const window = config.VIGIL_LOGIN_LOCKOUT_SECONDS;
    this.#perAccountAddress = new AttemptLimiter('login:account-ip', config.VIGIL_LOGIN_MAX_FAILURES_PER_ACCOUNT, window, stores);
    this.#perAddress = new AttemptLimiter('login:ip', config.VIGIL_LOGIN_MAX_FAILURES_PER_IP, window, stores);
    this.#perAccount = new AttemptLimiter('login:account', config.VIGIL_LOGIN_ACCOUNT_ATTACK_FAILURES, window, stores);
  }

  /** Reserves this attempt under both hard limits; a refused attempt holds neither. */
  async begin(email: string, ip: string): Promise<LoginAttempt> {
    const [refused, attack] = await Promise.all([
      reserveAll<Exclude<LoginLimit, 'account'>>([
        ['account_address', this.#perAccountAddress, digest(email.toLowerCase(), ip)],
        ['address', this.#perAddress, ip],
      ]),
      this.#perAccount.check(digest(email.toLowerCase())),
    ]);
    return refused ? { refused, underAttack: attack.locked } : { underAttack: attack.locked };
  }

  /** The attempt failed (a wrong password, or a sign-in refused for risk): its reservations stay counted. */
  async failed(email: string): Promise<void> {
    await this.#perAccount.fail(digest(email.toLowerCase()));
  }

  /**
   * The password was right: the address's reservation is given back and the account's failures from
   * this address are forgotten. The account-wide count is not: a sign-in by the person must not
   * reopen the password path to the attacker still guessing.
   */
  async succeeded(email: string, ip: string): Promise<void> {
    await Promise.all([this.#perAccountAddress.reset(digest(email.toLowerCase(), ip)), this.#perAddress.refund(ip)]);
  }
  /**
   * The password was just set anew through an emailed link from `ip`: that address's lock on the
   * account is lifted (its failures were guesses at the old password). The account-wide count and
   * the address's own limit stay.
   */
  async passwordReset(email: string, ip: string): Promise<void> {
    await this.#perAccountAddress.reset(digest(email.toLowerCase(), ip));
  }

}
