import type { KeyRing } from '../crypto/index.ts';
import type { ChallengeStore } from '../mfa/index.ts';

const PURPOSE = 'account.recovery-codes';
/** Long enough for the passkey script to follow its redirect; the codes are shown once anyway. */
const HOLD_SECONDS = 600;

interface AccountSession {
  accountId: string;
  sessionUid: string;
}

/**
 * Recovery codes issued by a JSON call (a passkey registration), held for the account page of the
 * same sign-in to show once: sealed and bound to the account and session, taken by the first read.
 * They never travel in a URL, a cookie or a log.
 */
export class RecoveryCodeReveal {
  readonly #challenges: ChallengeStore;
  readonly #keys: KeyRing;

  constructor(challenges: ChallengeStore, keys: KeyRing) {
    this.#challenges = challenges;
    this.#keys = keys;
  }

  async hold(session: AccountSession, codes: string[]): Promise<void> {
    const sealed = this.#keys.seal(JSON.stringify(codes), boundTo(session));
    await this.#challenges.put(idOf(session), PURPOSE, { sealed }, HOLD_SECONDS, session.accountId);
  }

  async take(session: AccountSession): Promise<string[] | undefined> {
    const held = await this.#challenges.take<{ sealed: string }>(idOf(session), PURPOSE);
    if (!held || held.accountId !== session.accountId) return undefined;
    try {
      return JSON.parse(this.#keys.open(held.data.sealed, boundTo(session))) as string[];
    } catch {
      return undefined;
    }
  }
}

const idOf = (session: AccountSession) => `recovery-codes:${session.sessionUid}`;
const boundTo = (session: AccountSession) => `${PURPOSE}:${session.accountId}:${session.sessionUid}`;
