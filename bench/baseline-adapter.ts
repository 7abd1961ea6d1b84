import type { Adapter, AdapterFactory, AdapterPayload } from 'oidc-provider';

interface Entry { payload: AdapterPayload; expiresAt: number }

/**
 * Everything oidc-provider stores, in one process's memory, kept until it expires. Its own
 * MemoryAdapter is an LRU of 1,000 entries: the bench's sessions, grants and rotating refresh
 * tokens outnumber that, and evicted ones would be refused mid-run.
 */
class MemoryStore {
  readonly entries = new Map<string, Entry>();
  readonly sessionByUid = new Map<string, string>();
  readonly byUserCode = new Map<string, string>();
  readonly grantMembers = new Map<string, Set<string>>();

  constructor(sweepEveryMs = 10_000) {
    setInterval(() => this.#sweep(), sweepEveryMs).unref();
  }

  get(key: string): AdapterPayload | undefined {
    const entry = this.entries.get(key);
    if (!entry) return undefined;
    if (entry.expiresAt <= Date.now()) {
      this.remove(key);
      return undefined;
    }
    return entry.payload;
  }

  set(key: string, payload: AdapterPayload, expiresInSeconds: number | undefined): void {
    this.remove(key);
    this.entries.set(key, { payload, expiresAt: expiresInSeconds === undefined ? Infinity : Date.now() + expiresInSeconds * 1000 });
    if (payload.uid && key.startsWith('Session:')) this.sessionByUid.set(payload.uid, key);
    if (payload.userCode) this.byUserCode.set(payload.userCode, key);
    if (payload.grantId) {
      let members = this.grantMembers.get(payload.grantId);
      if (!members) this.grantMembers.set(payload.grantId, members = new Set());
      members.add(key);
    }
  }

  remove(key: string): void {
    const entry = this.entries.get(key);
    if (!entry) return;
    this.entries.delete(key);
    const { uid, userCode, grantId } = entry.payload;
    if (uid && this.sessionByUid.get(uid) === key) this.sessionByUid.delete(uid);
    if (userCode && this.byUserCode.get(userCode) === key) this.byUserCode.delete(userCode);
    if (grantId) {
      const members = this.grantMembers.get(grantId);
      members?.delete(key);
      if (members?.size === 0) this.grantMembers.delete(grantId);
    }
  }

  #sweep(): void {
    const now = Date.now();
    for (const [key, entry] of this.entries) if (entry.expiresAt <= now) this.remove(key);
  }
}

class MemoryAdapter implements Adapter {
  readonly #model: string;
  readonly #store: MemoryStore;

  constructor(model: string, store: MemoryStore) {
    this.#model = model;
    this.#store = store;
  }

  #key(id: string): string {
    return `${this.#model}:${id}`;
  }

  async upsert(id: string, payload: AdapterPayload, expiresIn?: number): Promise<void> {
    this.#store.set(this.#key(id), payload, expiresIn);
  }

  async find(id: string): Promise<AdapterPayload | undefined> {
    return this.#store.get(this.#key(id));
  }

  async findByUid(uid: string): Promise<AdapterPayload | undefined> {
    const key = this.#store.sessionByUid.get(uid);
    return key ? this.#store.get(key) : undefined;
  }

  async findByUserCode(userCode: string): Promise<AdapterPayload | undefined> {
    const key = this.#store.byUserCode.get(userCode);
    return key ? this.#store.get(key) : undefined;
  }

  async consume(id: string): Promise<void> {
    const payload = this.#store.get(this.#key(id));
    if (payload) payload.consumed = Math.floor(Date.now() / 1000);
  }

  async destroy(id: string): Promise<void> {
    this.#store.remove(this.#key(id));
  }

  async revokeByGrantId(grantId: string): Promise<void> {
    for (const key of [...this.#store.grantMembers.get(grantId) ?? []]) this.#store.remove(key);
  }
}

/** One store shared by every model, as oidc-provider's adapter factory. */
export function memoryAdapterFactory(): AdapterFactory {
  const store = new MemoryStore();
  return (model) => new MemoryAdapter(model, store);
}
