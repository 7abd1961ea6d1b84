import { ADVISORY_LOCKS } from './advisory-locks.ts';
import type { Sql } from './sql.ts';

/** Payloads removed per transaction: a backlog (after downtime, or a shortened lifetime) never becomes one statement of millions of rows. */
export const EXPIRED_PURGE_BATCH = 5_000;

/**
 * Expired rows are invisible to find(); this reclaims their space, oldest first, a batch per
 * transaction, on one instance at a time (the others skip the round). How many payloads it
 * removed; undefined when another instance had the turn.
 */
export async function purgeExpired(sql: Sql, batch = EXPIRED_PURGE_BATCH): Promise<number | undefined> {
  const before = new Date(Date.now() - 3_600_000).toISOString();
  let total = 0;
  for (;;) {
    const removed = await sql.transaction(async (tx) => {
      const { rows: [turn] } = await tx.query<{ ok: boolean }>('SELECT pg_try_advisory_xact_lock($1) AS ok', [ADVISORY_LOCKS.payloadPurge]);
      if (!turn?.ok) return undefined;
      const { rowCount } = await tx.query(
        `DELETE FROM oidc_payloads p USING (SELECT model, id FROM oidc_payloads WHERE expires_at < $1 ORDER BY expires_at LIMIT $2) old
         WHERE p.model = old.model AND p.id = old.id`, [before, batch]);
      return rowCount;
    });
    if (removed === undefined) return total ? total : undefined;
    total += removed;
    if (removed < batch) break;
  }
  // Counters of failed sign-ins (Postgres-only mode): few rows, one statement.
  await sql.query('DELETE FROM login_rate_limits WHERE expire < $1', [Date.now() - 3_600_000]);
  return total;
}
