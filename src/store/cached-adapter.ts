import type { Payload } from './payload-codec.ts';
import type { Adapter } from './adapter-types.ts';

/**
 * Client metadata and grants are read on every token request and change rarely: each instance
 * keeps what it read for a few seconds. A change through this instance drops its copy at once;
 * other instances drop theirs when the revocation bus tells them (`forget`), or when the copy
 * expires if they miss the message. Tokens are never cached, and revoking a grant deletes its
 * tokens: revocation stays immediate everywhere.
 */
export class CachedAdapter implements Adapter {
  readonly #inner: Adapter;
  readonly #ttlMs: number;
  readonly #maxEntries: number;
  readonly #entries = new Map<string, { payload: Payload | undefined; until: number }>();

  constructor(inner: Adapter, ttlMs: number, maxEntries = 10_000) {
    this.#inner = inner;
    this.#ttlMs = ttlMs;
    this.#maxEntries = maxEntries;
  }

  async find(id: string): Promise<Payload | undefined> {
    const hit = this.#entries.get(id);
    if (hit && hit.until > Date.now()) return hit.payload && { ...hit.payload };
    const payload = await this.#inner.find(id);
    if (this.#entries.size >= this.#maxEntries) this.#entries.clear();
    this.#entries.set(id, { payload, until: Date.now() + this.#ttlMs });
    return payload && { ...payload };
  }

  forget(id?: string): void {
    if (id === undefined) this.#entries.clear();
    else this.#entries.delete(id);
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

  async revokeByClientId(clientId: string): Promise<void> {
    this.forget(clientId);
    await this.#inner.revokeByClientId(clientId);
  }

  destroyByAccountId(accountId: string): Promise<void> {
    return this.#inner.destroyByAccountId(accountId);
  }

  findByAccountId(accountId: string): Promise<Payload[]> {
    return this.#inner.findByAccountId(accountId);
  }
}
