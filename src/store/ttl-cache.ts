/**
 * Values kept for a fixed time, at most `maxEntries` of them (when full, it starts over: a burst
 * of distinct keys cannot grow it without bound). What an instance keeps of rarely changing
 * records read on the token path.
 */
export class TtlCache<K, V> {
  readonly #ttlMs: number;
  readonly #maxEntries: number;
  readonly #entries = new Map<K, { value: V; until: number }>();

  constructor(ttlMs: number, maxEntries: number) {
    this.#ttlMs = ttlMs;
    this.#maxEntries = maxEntries;
  }

  /** The value kept for `key`, loading (and keeping) it when there is none or it expired. */
  get(key: K, load: () => V): V {
    const now = Date.now();
    const hit = this.#entries.get(key);
    if (hit && hit.until > now) return hit.value;
    const value = load();
    if (this.#entries.size >= this.#maxEntries) this.#entries.clear();
    this.#entries.set(key, { value, until: now + this.#ttlMs });
    return value;
  }

  /** Whether `key` has a value that has not expired. */
  has(key: K): boolean {
    const hit = this.#entries.get(key);
    return hit !== undefined && hit.until > Date.now();
  }

  forget(key?: K): void {
    if (key === undefined) this.#entries.clear();
    else this.#entries.delete(key);
  }
}

/** What `load` gave for a key, kept for `ttlMs` (a failed load is not kept); dropped with `forget`. */
export class LoadingCache<K, V> {
  readonly #load: (key: K) => Promise<V>;
  readonly #kept: TtlCache<K, Promise<V>>;

  constructor(load: (key: K) => Promise<V>, ttlMs: number, maxEntries = 50_000) {
    this.#load = load;
    this.#kept = new TtlCache(ttlMs, maxEntries);
  }

  get(key: K): Promise<V> {
    return this.#kept.get(key, () => {
      const value = this.#load(key);
      value.catch(() => this.#kept.forget(key));
      return value;
    });
  }

  forget(key?: K): void {
    this.#kept.forget(key);
  }
}
