import type { Account } from './accounts.ts';

/**
 * Accounts as the token path reads them (claims, roles, disabled), kept for a moment: a refresh
 * or an introspection reads its account once instead of once per request. A change is seen
 * within `ttlMs` on every instance, at once where the revocation bus says the account changed
 * (`forget`); a disabled account's tokens are revoked in the stores anyway.
 */
export class AccountCache {
  readonly #load: (id: string) => Promise<Account | undefined>;
  readonly #ttlMs: number;
  readonly #maxEntries: number;
  readonly #entries = new Map<string, { account: Promise<Account | undefined>; until: number }>();

  constructor(load: (id: string) => Promise<Account | undefined>, ttlMs: number, maxEntries = 50_000) {
    this.#load = load;
    this.#ttlMs = ttlMs;
    this.#maxEntries = maxEntries;
  }

  findById(id: string): Promise<Account | undefined> {
    const now = Date.now();
    const hit = this.#entries.get(id);
    if (hit && hit.until > now) return hit.account;
    const account = this.#load(id);
    if (this.#entries.size >= this.#maxEntries) this.#entries.clear();
    this.#entries.set(id, { account, until: now + this.#ttlMs });
    // A failed read is not kept.
    account.catch(() => this.#entries.delete(id));
    return account;
  }

  forget(id?: string): void {
    if (id === undefined) this.#entries.clear();
    else this.#entries.delete(id);
  }
}
