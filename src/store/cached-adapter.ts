import type { Payload } from './payload-codec.ts';
import type { Adapter } from './adapter-types.ts';
import { TtlCache } from './ttl-cache.ts';

/**
 * Client metadata and grants are read on every token request and change rarely: each instance
 * keeps what it read for a few seconds. A change through this instance drops its copy at once;
 * other instances drop theirs when the revocation bus tells them (`forget`), or when the copy
 * expires if they miss the message. Tokens are never cached, and revoking a grant deletes its
 * tokens: revocation stays immediate everywhere.
 */
export class CachedAdapter implements Adapter {
  readonly #inner: Adapter;
  readonly #kept: TtlCache<string, Promise<Payload | undefined>>;

  constructor(inner: Adapter, ttlMs: number, maxEntries = 10_000) {
    this.#inner = inner;
    this.#kept = new TtlCache(ttlMs, maxEntries);
  }

  async find(id: string): Promise<Payload | undefined> {
    const found = this.#kept.get(id, () => {
      const payload = this.#inner.find(id);
      payload.catch(() => this.#kept.forget(id));
      return payload;
    });
    // A copy: oidc-provider may change what it is handed.
    const payload = await found;
    return payload && { ...payload };
  }

  /** Whether a read of `id` now would be answered from the copy kept. */
  keeps(id: string): boolean {
    return this.#kept.has(id);
  }

  forget(id?: string): void {
    this.#kept.forget(id);
  }

  async upsert(id: string, payload: Payload, expiresIn?: number): Promise<void> {
    this.forget(id);
    await this.#inner.upsert(id, payload, expiresIn);
    this.forget(id);
  }

  async destroy(id: string): Promise<void> {
    this.forget(id);
    await this.#inner.destroy(id);
  }

  findByUid(uid: string): Promise<Payload | undefined> {
    return this.#inner.findByUid(uid);
  }

  findByUserCode(userCode: string): Promise<Payload | undefined> {
    return this.#inner.findByUserCode(userCode);
  }

  consume(id: string): Promise<void> {
    return this.#inner.consume(id);
  }

  revokeByGrantId(grantId: string): Promise<void> {
    return this.#inner.revokeByGrantId(grantId);
  }

  async revokeByClientId(clientId: string): Promise<number> {
    this.forget(clientId);
    return await this.#inner.revokeByClientId(clientId);
  }

  destroyByAccountId(accountId: string): Promise<void> {
    return this.#inner.destroyByAccountId(accountId);
  }

  findByAccountId(accountId: string): Promise<Payload[]> {
    return this.#inner.findByAccountId(accountId);
  }
}
