import type { Logger } from '../observability/index.ts';
import type { Queryable, Sql } from './sql.ts';
import { ADVISORY_LOCKS } from './advisory-locks.ts';

/**
 * Table upkeep when nobody else does it: a Postgres server running with `autovacuum = off`, and
 * the embedded database (PGlite runs no background workers at all).
 *
 * Without ANALYZE the planner keeps the statistics of an empty table. The refresh path's
 * statements are prepared, and a connection plans them once from those statistics: made while
 * `oidc_payloads` held a few rows, the plan scanned every refresh token on each lookup, and went on
 * doing so as the table grew (~900 pages read per statement under the bench). An ANALYZE moves
 * the statistics on and makes every connection plan again. Without VACUUM, dead rows (consumed
 * and purged tokens) are never reclaimed.
 */

/** When autovacuum would act: its default thresholds (postgresql.conf). */
export const UPKEEP_THRESHOLDS = { analyzeBase: 50, analyzeScale: 0.1, vacuumBase: 50, vacuumScale: 0.2 } as const;

export interface TableActivity {
  table: string;
  liveRows: number;
  deadRows: number;
  modifiedSinceAnalyze: number;
}

export interface UpkeepDue {
  analyze: string[];
  vacuum: string[];
}

/** The tables past autovacuum's default thresholds, as it would judge them. */
export function upkeepDue(tables: readonly TableActivity[], thresholds = UPKEEP_THRESHOLDS): UpkeepDue {
  const analyze: string[] = [];
  const vacuum: string[] = [];
  for (const t of tables) {
    if (t.modifiedSinceAnalyze > thresholds.analyzeBase + thresholds.analyzeScale * t.liveRows) analyze.push(t.table);
    if (t.deadRows > thresholds.vacuumBase + thresholds.vacuumScale * t.liveRows) vacuum.push(t.table);
  }
  return { analyze, vacuum };
}

/** Whether Vigil keeps its tables itself: `auto` does when the server's autovacuum does not. */
export async function upkeepNeeded(sql: Sql, mode: 'auto' | 'off'): Promise<boolean> {
  if (mode === 'off') return false;
  if (sql.kind === 'pglite') return true;
  const { rows } = await sql.query<{ autovacuum: string; track_counts: string }>(
    "SELECT current_setting('autovacuum') AS autovacuum, current_setting('track_counts') AS track_counts",
  );
  return rows[0]?.autovacuum !== 'on' && rows[0]?.track_counts === 'on';
}

const quoteIdent = (name: string) => `"${name.replace(/"/g, '""')}"`;

/** Reads the activity counters of the schema's tables and runs ANALYZE / VACUUM where due. */
export class TableUpkeep {
  readonly #sql: Sql;

  constructor(sql: Sql) {
    this.#sql = sql;
  }

  static async activity(db: Queryable): Promise<TableActivity[]> {
    const { rows } = await db.query<{ table: string; live: string | number; dead: string | number; modified: string | number }>(
      `SELECT relname AS table, n_live_tup AS live, n_dead_tup AS dead, n_mod_since_analyze AS modified
       FROM pg_stat_user_tables WHERE schemaname = current_schema()`,
    );
    return rows.map((r) => ({ table: r.table, liveRows: Number(r.live), deadRows: Number(r.dead), modifiedSinceAnalyze: Number(r.modified) }));
  }

  /** One round: what was analyzed and vacuumed (nothing when another instance holds the round). */
  async run(): Promise<UpkeepDue> {
    const due = await this.#sql.transaction(async (tx) => {
      const { rows } = await tx.query<{ locked: boolean }>('SELECT pg_try_advisory_xact_lock($1) AS locked', [ADVISORY_LOCKS.upkeep]);
      if (!rows[0]?.locked) return { analyze: [], vacuum: [] };
      const found = upkeepDue(await TableUpkeep.activity(tx));
      for (const table of found.analyze) await tx.query(`ANALYZE ${quoteIdent(table)}`);
      return found;
    });
    // VACUUM cannot run inside a transaction; two instances vacuuming one table only queue.
    for (const table of due.vacuum) await this.#sql.query(`VACUUM ${quoteIdent(table)}`);
    return due;
  }
}

export interface UpkeepSchedule {
  mode: 'auto' | 'off';
  intervalSeconds: number;
  logger: Logger;
}

/** Starts the rounds when they are needed (see `upkeepNeeded`); the returned function stops them, waiting for a round under way. */
export async function scheduleUpkeep(sql: Sql, { mode, intervalSeconds, logger }: UpkeepSchedule): Promise<() => Promise<void>> {
  if (!(await upkeepNeeded(sql, mode))) return async () => {};
  if (sql.kind === 'postgres') {
    logger.warn({ setting: 'autovacuum' }, 'the Postgres server runs with autovacuum off: Vigil analyzes and vacuums its own tables (VIGIL_DB_UPKEEP=off to stop it)');
  }
  const upkeep = new TableUpkeep(sql);
  let round: Promise<void> | undefined;
  const timer = setInterval(() => {
    round ??= upkeep.run()
      .then((done) => {
        if (done.analyze.length || done.vacuum.length) logger.debug({ analyzed: done.analyze, vacuumed: done.vacuum }, 'table upkeep');
      })
      .catch((err) => logger.warn({ err }, 'table upkeep failed'))
      .finally(() => { round = undefined; });
  }, intervalSeconds * 1000);
  timer.unref();
  return async () => {
    clearInterval(timer);
    await round;
  };
}
