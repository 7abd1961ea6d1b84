import { constantTimeEqual, type KeyRing } from '../crypto/index.ts';
import { msg } from '../i18n/index.ts';
import type { FirstPartySession } from './session-cookie.ts';

/**
 * CSRF tokens of an app's forms: a MAC of the signed-in session under a key of the app's own
 * purpose, so a token is good only for that person's sign-in in that app. Nothing is stored.
 */
export class FormTokens {
  readonly #keys: KeyRing;
  readonly #purpose: string;

  constructor(keys: KeyRing, purpose: string) {
    this.#keys = keys;
    this.#purpose = purpose;
  }

  issue(session: Pick<FirstPartySession, 'accountId' | 'sessionUid'>): string {
    return this.#keys.mac(this.#purpose, `${session.accountId}:${session.sessionUid}`);
  }

  /** Throws a readable 403 unless `value` is this session's token. */
  check(session: Pick<FirstPartySession, 'accountId' | 'sessionUid'>, value: unknown): void {
    if (typeof value !== 'string' || !constantTimeEqual(value, this.issue(session))) {
      throw Object.assign(new Error('This form has expired. Reload the page and try again.'), {
        status: 403, expose: true, error: 'invalid_request', pageMessage: msg('common.formExpired'),
      });
    }
  }
}
