import type { AttemptLimiter } from './attempt-limiter.ts';

/** One limit an attempt is reserved under: its name (to say which refused), the limiter and the key. */
export type NamedLimit<L extends string> = readonly [name: L, limiter: AttemptLimiter, key: string];

/**
 * Reserves one attempt under every limit at once. When any refuses, the others give theirs back
 * (a refused attempt is no guess) and the first refusing limit, in the order given, is named.
 */
export async function reserveAll<L extends string>(limits: readonly NamedLimit<L>[]): Promise<{ limit: L; retryAfterSeconds: number } | undefined> {
  const reservations = await Promise.all(limits.map(([, limiter, key]) => limiter.reserve(key)));
  const refused = reservations.findIndex((r) => !r.allowed);
  if (refused < 0) return undefined;
  await Promise.all(limits.map(([, limiter, key], i) => reservations[i].allowed && limiter.refund(key)));
  return { limit: limits[refused][0], retryAfterSeconds: reservations[refused].retryAfterSeconds };
}
