/**
 * A person's effective roles: standing roles and the elevations in force, each of the latter only
 * for a sign-in at least as strong as its role's `min_acr`. The elevations an instance keeps are
 * kept with their end, and the end is compared at every read: an elevation stops counting at its
 * expiry to the second, on every instance, whatever is cached. A start or an early end is
 * announced on the bus (the cache is dropped at once everywhere).
 */
import { acrLevel } from '../config/index.ts';
import { TtlCache } from '../store/ttl-cache.ts';
import type { ElevationSettings } from './settings.ts';
import type { ActiveElevation } from './store.ts';

/** The roles in `standing` and those elevated for `acr` at `now`, sorted, each once. */
export function effectiveRoles(
  standing: readonly string[], active: readonly ActiveElevation[], settings: ElevationSettings, acr: string | undefined, now = Date.now(),
): string[] {
  const roles = new Set(standing);
  for (const e of active) {
    const rule = settings.roles.get(e.role);
    if (rule && e.expiresAt > now && acrLevel(acr) >= acrLevel(rule.min_acr)) roles.add(e.role);
  }
  return [...roles].sort();
}

export class ActiveElevations {
  readonly #load: (accountId: string) => Promise<ActiveElevation[]>;
  readonly #kept: TtlCache<string, Promise<ActiveElevation[]>>;

  constructor(load: (accountId: string) => Promise<ActiveElevation[]>, ttlMs: number, maxEntries = 50_000) {
    this.#load = load;
    this.#kept = new TtlCache(ttlMs, maxEntries);
  }

  of(accountId: string): Promise<ActiveElevation[]> {
    return this.#kept.get(accountId, () => {
      const active = this.#load(accountId);
      active.catch(() => this.#kept.forget(accountId));
      return active;
    });
  }

  forget(accountId?: string): void {
    this.#kept.forget(accountId);
  }
}
