import { createHash } from 'node:crypto';
import type { Config } from '../config/index.ts';
import { AttemptLimiter, reserveAll } from '../limits/index.ts';
import type { Stores } from '../store/index.ts';

/** Which limit acted, as the audit trail names it. */
export type RecoveryLimit = 'email' | 'address';

export interface RecoveryRefusal {
  limit: RecoveryLimit;
  retryAfterSeconds: number;
}

/** Keys stay short and fixed-length whatever was typed. */
const emailKey = (email: string) => createHash('sha256').update(email.trim().toLowerCase()).digest('base64url');

/**
 * The limits of the mails with a link: per address typed (known or not, so a limit reveals
 * nothing, and nobody can flood a person's mailbox), per client address (one place asking for many
 * addresses), and the link pages' refusals of forged links per client address. Each request is
 * reserved before anything is looked up and is not given back: every one may send a mail.
 */
export class RecoveryThrottle {
  readonly #perEmail: AttemptLimiter;
  readonly #perAddress: AttemptLimiter;
  readonly #forgedLinks: AttemptLimiter;

  constructor(config: Config, stores: Pick<Stores, 'sql' | 'redis'>) {
    const window = config.VIGIL_RECOVERY_WINDOW_SECONDS;
    this.#perEmail = new AttemptLimiter('recovery:email', config.VIGIL_RECOVERY_MAX_PER_EMAIL, window, stores);
    this.#perAddress = new AttemptLimiter('recovery:ip', config.VIGIL_RECOVERY_MAX_PER_IP, window, stores);
    this.#forgedLinks = new AttemptLimiter('recovery:link:ip', config.VIGIL_LOGIN_MAX_FAILURES_PER_IP, config.VIGIL_LOGIN_LOCKOUT_SECONDS, stores);
  }

  /** A forgot-password request: reserved under both limits, or refused holding neither. */
  async request(email: string, ip: string): Promise<RecoveryRefusal | undefined> {
    return reserveAll<RecoveryRefusal['limit']>([['email', this.#perEmail, emailKey(email)], ['address', this.#perAddress, ip]]);
  }

  /** A mail to a signed-in person's own address (the address check): the per-address-typed limit only. */
  async mailTo(email: string): Promise<RecoveryRefusal | undefined> {
    const byEmail = await this.#perEmail.reserve(emailKey(email));
    return byEmail.allowed ? undefined : { limit: 'email', retryAfterSeconds: byEmail.retryAfterSeconds };
  }

  /** Whether this client address may present links now (too many forged ones: not for a while). */
  async linksAllowed(ip: string): Promise<{ allowed: boolean; retryAfterSeconds: number }> {
    const state = await this.#forgedLinks.check(ip);
    return { allowed: !state.locked, retryAfterSeconds: state.retryAfterSeconds };
  }

  /** A link that was never issued (or was replaced) was presented. */
  async forgedLink(ip: string): Promise<void> {
    await this.#forgedLinks.fail(ip);
  }
}
