import type { Sql } from './sql.ts';

/**
 * One statement in a transaction that holds `lock`'s turn (a purge runs on one instance at a
 * time; the others skip the round): the rows it removed, undefined when another instance has it.
 */
export async function inPurgeTurn(sql: Sql, lock: number, statement: string, params: unknown[]): Promise<number | undefined> {
  return await sql.transaction(async (tx) => {
    const { rows: [turn] } = await tx.query<{ ok: boolean }>('SELECT pg_try_advisory_xact_lock($1) AS ok', [lock]);
    if (!turn?.ok) return undefined;
    return (await tx.query(statement, params)).rowCount;
  });
}

/**
 * Deletes the rows of `table` whose `column` (indexed) is before `before`, oldest first, `rows` per
 * transaction holding `lock`'s turn, so that a backlog never becomes one statement of millions of
 * rows. `key`: the columns naming a row. How many it removed; undefined when the turn was another's.
 */
export async function deleteOlderInBatches(sql: Sql, lock: number, target: { table: string; key: string; column: string }, before: string, rows: number): Promise<number | undefined> {
  const { table, key, column } = target;
  for (let total = 0; ;) {
    const n = await inPurgeTurn(sql, lock,
      `DELETE FROM ${table} WHERE (${key}) IN (SELECT ${key} FROM ${table} WHERE ${column} < $1 ORDER BY ${column} LIMIT $2)`, [before, rows]);
    if (n === undefined) return undefined;
    total += n;
    if (n < rows) return total;
  }
}
