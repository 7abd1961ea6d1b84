import type { Account } from './accounts.ts';
import { LoadingCache } from '../store/ttl-cache.ts';

/**
 * Accounts as the token path reads them (claims, roles, disabled), kept for a moment: a refresh
 * or an introspection reads its account once instead of once per request. A change is seen
 * within `ttlMs` on every instance, at once where the revocation bus says the account changed
 * (`forget`); a disabled account's tokens are revoked in the stores anyway.
 */
export class AccountCache {
  readonly #kept: LoadingCache<string, Account | undefined>;

  constructor(load: (id: string) => Promise<Account | undefined>, ttlMs: number, maxEntries = 50_000) {
    this.#kept = new LoadingCache(load, ttlMs, maxEntries);
  }

  findById(id: string): Promise<Account | undefined> {
    return this.#kept.get(id);
  }

  forget(id?: string): void {
    this.#kept.forget(id);
  }
}
