/**
 * Loads a large, realistic data set into a Vigil database by bulk statements (bench/scale-rows.ts),
 * then VACUUM ANALYZE: what `npm run bench:scale` runs against. On its own:
 *
 *   BENCH_SCALE_ACCOUNTS=100000 BENCH_SCALE_GRANTS=500000 BENCH_SCALE_AUDIT_DAYS=7 \
 *     node bench/scale-load.ts postgres://postgres@127.0.0.1:5432/some_db   # migrates it first
 */
import pg from 'pg';
import { fileURLToPath } from 'node:url';
import { migrate, PostgresSql } from '../src/store/index.ts';
import { derivedCounts, scaleLoad, scaleSizes, type ScaleSizes } from './scale-rows.ts';

export interface TableLoadTime { table: string; rows: string; seconds: number }

const log = (line: string) => process.stderr.write(`${line}\n`);

/** A connection that runs statements one after another (pg.Client, or Vigil's PgliteSql in tests). */
export interface StatementRunner { query(text: string): Promise<{ rowCount: number | null }> }

/** Loads `sizes` over one connection to a migrated database; the time each table took. */
export async function loadScaleWith(db: StatementRunner, sizes: ScaleSizes): Promise<TableLoadTime[]> {
  const times: TableLoadTime[] = [];
  for (const load of scaleLoad(sizes)) {
    const started = Date.now();
    const inserted: number[] = [];
    for (const statement of load.statements) {
      const result = await db.query(statement);
      if (/^\s*INSERT/.test(statement)) inserted.push(result.rowCount ?? 0);
    }
    const seconds = (Date.now() - started) / 1000;
    const rows = inserted.join(' + ');
    times.push({ table: load.table, rows, seconds });
    log(`loaded ${load.table}: ${rows} rows in ${seconds.toFixed(1)} s`);
  }
  await db.query('DROP TABLE scale_grants');
  const started = Date.now();
  // As a database in service looks: statistics current, visibility map set (autovacuum's work).
  await db.query('VACUUM (ANALYZE)');
  const seconds = (Date.now() - started) / 1000;
  times.push({ table: 'VACUUM (ANALYZE)', rows: '', seconds });
  log(`VACUUM (ANALYZE) in ${seconds.toFixed(1)} s`);
  return times;
}

/** Loads `sizes` into the (migrated) Postgres database at `url`; the time each table took. */
export async function loadScale(url: string, sizes: ScaleSizes): Promise<TableLoadTime[]> {
  const db = new pg.Client({ connectionString: url });
  await db.connect();
  try {
    // A bulk load, not a live server: losing it in a crash costs nothing.
    await db.query('SET synchronous_commit = off');
    await db.query("SET maintenance_work_mem = '256MB'");
    await db.query("SET work_mem = '64MB'");
    return await loadScaleWith(db, sizes);
  } finally {
    await db.end();
  }
}

export function describeSizes(sizes: ScaleSizes): string {
  const d = derivedCounts(sizes);
  return `${sizes.accounts} accounts, ≈${sizes.grants} grants (each with a live refresh token, a binding and a session), ${sizes.days} days of audit trail and assessments `
    + `(${d.signInsPerDay} sign-ins and ${d.refreshesPerDay} refreshes a day: ${d.auditRows} audit entries, ${d.assessments} assessments), `
    + `${d.consumedRefreshTokens} rotated refresh tokens (${sizes.consumedDays} days)`;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const url = process.argv[2];
  if (!url || !/^postgres(ql)?:\/\//.test(url)) throw new Error('usage: node bench/scale-load.ts postgres://…/database');
  const sizes = scaleSizes();
  const sql = new PostgresSql(url, 1);
  try {
    await migrate(sql);
  } finally {
    await sql.pool.end();
  }
  log(`loading ${describeSizes(sizes)}`);
  const times = await loadScale(url, sizes);
  console.table(times.map((t) => ({ table: t.table, rows: t.rows, seconds: t.seconds.toFixed(1) })));
}
