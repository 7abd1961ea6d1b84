/**
 * A person's effective roles: standing roles and the elevations in force, each of the latter only
 * for a sign-in at least as strong as its role's `min_acr`. The elevations an instance keeps are
 * kept with their end, and the end is compared at every read: an elevation stops counting at its
 * expiry to the second, on every instance, whatever is cached. A start or an early end is
 * announced on the bus (the cache is dropped at once everywhere).
 */
import { acrLevel } from '../config/index.ts';
import { LoadingCache } from '../store/ttl-cache.ts';
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

/** The elevations in force per account as this instance keeps them (with their ends). */
export class ActiveElevations extends LoadingCache<string, ActiveElevation[]> {
  of(accountId: string): Promise<ActiveElevation[]> {
    return this.get(accountId);
  }
}
