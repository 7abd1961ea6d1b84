import { ADVISORY_LOCKS } from './advisory-locks.ts';
import { deleteOlderInBatches } from './purge-turn.ts';
import type { Sql } from './sql.ts';

/** Payloads removed per transaction: a backlog (after downtime, or a shortened lifetime) never becomes one statement of millions of rows. */
export const EXPIRED_PURGE_BATCH = 5_000;

/**
 * Expired rows are invisible to find(); this reclaims their space, oldest first, a batch per
 * transaction, on one instance at a time (the others skip the round). How many payloads it
 * removed; undefined when another instance had the turn.
 */
export async function purgeExpired(sql: Sql, batch = EXPIRED_PURGE_BATCH): Promise<number | undefined> {
  const removed = await deleteOlderInBatches(sql, ADVISORY_LOCKS.payloadPurge,
    { table: 'oidc_payloads', key: 'model, id', column: 'expires_at' }, new Date(Date.now() - 3_600_000).toISOString(), batch);
  if (removed === undefined) return undefined;
  // Counters of failed sign-ins (Postgres-only mode): few rows, one statement.
  await sql.query('DELETE FROM login_rate_limits WHERE expire < $1', [Date.now() - 3_600_000]);
  return removed;
}
