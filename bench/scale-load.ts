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
import { freshDatabase, POSTGRES_URL } from '../test/support/services.ts';
import { withClient } from './db-stats.ts';
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

/** Migrates the Postgres database at `url` (the loader writes into Vigil's tables). */
async function migrated(url: string): Promise<void> {
  const sql = new PostgresSql(url, 1);
  try {
    await migrate(sql);
  } finally {
    await sql.pool.end();
  }
}

/** `work` on a connection to the server's maintenance database (creating and dropping databases). */
const onServer = <T>(work: (admin: pg.Client) => Promise<T>): Promise<T> => withClient(POSTGRES_URL, work);

/** How long a kept database is copied instead of loaded again. */
const KEPT_FOR_MS = 86_400_000;

const databaseName = (url: string) => new URL(url).pathname.slice(1);

/** What a database kept by `loadedDatabase` is marked with (its comment); undefined for any other. */
function keptMark(comment: string | null): { sizes: unknown; loadedAt: number } | undefined {
  try {
    const mark = JSON.parse(comment ?? '') as { sizes?: unknown; loadedAt?: unknown; keptBy?: unknown };
    return mark.keptBy === 'vigil bench:scale' && typeof mark.loadedAt === 'number' ? { sizes: mark.sizes, loadedAt: mark.loadedAt } : undefined;
  } catch {
    return undefined;
  }
}

/**
 * A fresh database holding `sizes`, migrated and loaded, dropped with `drop()`. With `keep` (a
 * database name), the loaded state is kept under that name, marked with the sizes, and copied
 * (CREATE DATABASE … TEMPLATE, a file copy) by the next run asking for the same sizes within a
 * day (the rows' times are set when they are loaded: tokens issued in the last days, expiring in
 * the next ones) instead of loading again; the copy gets Vigil's newer migrations when Vigil starts on it.
 */
export async function loadedDatabase(sizes: ScaleSizes, keep?: string): Promise<{ url: string; drop(): Promise<void>; loadTimes: TableLoadTime[] }> {
  if (keep) {
    const kept = await onServer(async (admin) => (await admin.query<{ mark: string | null }>(
      "SELECT shobj_description(oid, 'pg_database') AS mark FROM pg_database WHERE datname = $1", [keep])).rows[0]);
    const made = kept && keptMark(kept.mark);
    // Never another database of that name: only one this loader kept is copied or replaced.
    if (kept && !made) throw new Error(`BENCH_SCALE_KEEP: the database ${keep} exists and was not kept by the scale bench; name another`);
    if (made && JSON.stringify(made.sizes) === JSON.stringify(sizes) && Date.now() - made.loadedAt < KEPT_FOR_MS) {
      const started = Date.now();
      const db = await freshDatabase();
      // freshDatabase made it empty: made again as a copy of the kept one.
      await onServer(async (admin) => {
        await admin.query(`DROP DATABASE ${databaseName(db.url)}`);
        await admin.query(`CREATE DATABASE ${databaseName(db.url)} TEMPLATE ${keep} STRATEGY FILE_COPY`);
      });
      const seconds = (Date.now() - started) / 1000;
      log(`copied the kept database ${keep} in ${seconds.toFixed(1)} s`);
      return { ...db, loadTimes: [{ table: `copy of ${keep}`, rows: '', seconds }] };
    }
    if (made) await onServer((admin) => admin.query(`DROP DATABASE ${keep} WITH (FORCE)`));
  }
  const db = await freshDatabase();
  try {
    await migrated(db.url);
    const loadTimes = await loadScale(db.url, sizes);
    if (keep) {
      await onServer(async (admin) => {
        await admin.query(`CREATE DATABASE ${keep} TEMPLATE ${databaseName(db.url)} STRATEGY FILE_COPY`);
        const mark = JSON.stringify({ keptBy: 'vigil bench:scale', sizes, loadedAt: Date.now() });
        await admin.query(`COMMENT ON DATABASE ${keep} IS '${mark.replace(/'/g, "''")}'`);
      });
      log(`kept the loaded database as ${keep} (drop it with DROP DATABASE ${keep})`);
    }
    return { ...db, loadTimes };
  } catch (err) {
    await db.drop();
    throw err;
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
  await migrated(url);
  log(`loading ${describeSizes(sizes)}`);
  const times = await loadScale(url, sizes);
  console.table(times.map((t) => ({ table: t.table, rows: t.rows, seconds: t.seconds.toFixed(1) })));
}
