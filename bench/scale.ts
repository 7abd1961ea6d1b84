/**
 * Large-table bench: does Vigil serve as fast after years of use as on the first day? Two
 * production-mode Vigil servers on Postgres + Redis, set up alike (same settings, the bench's own
 * accounts and clients): one on empty tables, one on a database loaded by bench/scale-load.ts.
 * Refresh, introspection and login run against both in turns, in the same run; then the table and
 * index sizes of the loaded database, the Postgres buffer hit rate during the run, and the bytes
 * stored per refresh and per sign-in (measured on the empty-table server). Writes
 * bench/results/scale.json and scale.md. docs/performance.md explains it.
 *
 *   npm run bench:scale                                          # 1M accounts, 5M grants, 30 days
 *   BENCH_SCALE_ACCOUNTS=100000 BENCH_SCALE_GRANTS=500000 BENCH_SCALE_AUDIT_DAYS=7 BENCH_SECONDS=5 npm run bench:scale
 *
 * Settings: the BENCH_SCALE_* sizes (bench/scale-rows.ts), BENCH_SECONDS (10 per slice),
 * BENCH_SCALE_ROUNDS (3 slices per server and scenario, the order alternating), BENCH_CONNECTIONS
 * (20), BENCH_ACCOUNTS (50), BENCH_WARMUP_SECONDS (2), BENCH_LOGIN_SECONDS (BENCH_SECONDS),
 * BENCH_LOGIN_CONCURRENCY (4), BENCH_BYTES_SECONDS (5: the refresh and login runs that count stored bytes),
 * BENCH_SCALE_REMOVE_DAYS (days of the loaded trail the retention step removes; half of them by default),
 * BENCH_SCALE_KEEP (a database name: keep the loaded database under it, and copy it instead of
 * loading in the next run with the same sizes).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';
import { ROOT } from '../test/support/vigil-process.ts';
import { withCpu } from './cpu-meter.ts';
import { blockCounts, hitRate, mb, storageSnapshot, storedPerOperation, tableSizes, type HitRate, type StoredPerOperation, type TableSize } from './db-stats.ts';
import { introspectionRequest } from './introspection.ts';
import { measureLogins, type LoginMeasurement } from './login.ts';
import { loadInto, Runs, type Measurement } from './measurement.ts';
import { RefreshSide } from './refresh.ts';
import { describeSizes, loadedDatabase, type TableLoadTime } from './scale-load.ts';
import { retentionScenario, sliceSummary, type RetentionOutcome } from './scale-retention.ts';
import { scaleSizes } from './scale-rows.ts';
import type { VigilTarget } from './target.ts';
import { startVigilTarget } from './vigil-target.ts';

const settings = z.object({
  BENCH_SECONDS: z.coerce.number().positive().default(10),
  BENCH_SCALE_ROUNDS: z.coerce.number().int().positive().default(3),
  BENCH_CONNECTIONS: z.coerce.number().int().positive().default(20),
  BENCH_ACCOUNTS: z.coerce.number().int().positive().default(50),
  BENCH_WARMUP_SECONDS: z.coerce.number().min(0).default(2),
  BENCH_LOGIN_SECONDS: z.coerce.number().positive().optional(),
  BENCH_LOGIN_CONCURRENCY: z.coerce.number().int().positive().default(4),
  BENCH_BYTES_SECONDS: z.coerce.number().positive().default(5),
  BENCH_SCALE_REMOVE_DAYS: z.coerce.number().int().positive().optional(),
  BENCH_SCALE_KEEP: z.string().regex(/^[a-z_][a-z0-9_]{0,62}$/, 'a database name: lower-case letters, digits, _').optional(),
}).parse(Object.fromEntries(Object.entries(process.env).filter(([k, v]) => k.startsWith('BENCH_') && v !== '')));
const SECONDS = settings.BENCH_SECONDS;
const ROUNDS = settings.BENCH_SCALE_ROUNDS;
const CONNECTIONS = settings.BENCH_CONNECTIONS;
const ACCOUNTS = settings.BENCH_ACCOUNTS;
const LOGIN_SECONDS = settings.BENCH_LOGIN_SECONDS ?? SECONDS;
const SESSIONS_PER_ACCOUNT = Math.max(2, Math.ceil((5 * CONNECTIONS) / ACCOUNTS));
const SIZES = scaleSizes();
/** Vigil's default (`VIGIL_REFRESH_TOKEN_TTL`): the bindings the server's purge would keep. */
const REFRESH_TOKEN_TTL_SECONDS = 14 * 86_400;

/** Issue 24's targets: large tables against empty ones. */
export const SCALE_LIMITS = { throughput: 0.9, p99: 1.2 } as const;

const log = (line: string) => process.stderr.write(`${line}\n`);

interface Row { scenario: string; empty: Measurement; large: Measurement }

/** The loaded server's figure against the empty one's, and whether both targets hold. */
function verdict(empty: { rps: number; p99: number }, large: { rps: number; p99: number }) {
  const throughput = large.rps / empty.rps;
  const p99 = large.p99 / Math.max(1, empty.p99);
  return { throughput, p99, met: throughput >= SCALE_LIMITS.throughput && p99 <= SCALE_LIMITS.p99 };
}

interface RefreshOutcome { row: Row; sides: RefreshSide[]; postgresMsPerRefresh: { empty: number; large: number } }

async function refreshScenario(empty: VigilTarget, large: VigilTarget): Promise<RefreshOutcome> {
  const sides = [
    await RefreshSide.signIn('refresh (empty tables)', empty, ACCOUNTS, SESSIONS_PER_ACCOUNT, CONNECTIONS),
    await RefreshSide.signIn('refresh (large tables)', large, ACCOUNTS, SESSIONS_PER_ACCOUNT, CONNECTIONS),
  ];
  for (const side of sides) if (settings.BENCH_WARMUP_SECONDS > 0) await side.run(settings.BENCH_WARMUP_SECONDS, false);
  const postgresMs = [0, 0];
  for (let round = 0; round < ROUNDS; round++) {
    for (const i of round % 2 === 0 ? [0, 1] : [1, 0]) {
      const side = sides[i];
      const { result: slice, postgresMs: ms } = await withCpu([], side.target === empty ? empty.env.DATABASE_URL : large.env.DATABASE_URL, () => side.run(SECONDS));
      postgresMs[i] += ms;
      log(`${side.name} round ${round + 1}/${ROUNDS}: ${Math.round(slice.rps)} requests/s, p99 ${slice.p99} ms`);
    }
  }
  const [e, l] = sides.map((side) => side.measurement());
  return { row: { scenario: 'refresh', empty: e, large: l }, sides, postgresMsPerRefresh: { empty: postgresMs[0] / e.requests, large: postgresMs[1] / l.requests } };
}

async function introspectionScenario(empty: VigilTarget, large: VigilTarget): Promise<Row> {
  const sides = await Promise.all([empty, large].map(async (target) => {
    const options = { connections: CONNECTIONS, duration: SECONDS, ...(await introspectionRequest(target)) };
    return { target, options, runs: new Runs(String(options.url), CONNECTIONS) };
  }));
  for (let round = 0; round < ROUNDS; round++) {
    for (const side of round % 2 === 0 ? sides : [...sides].reverse()) await loadInto(side.runs, side.target.pid, side.options);
  }
  return { scenario: 'introspection', empty: sides[0].runs.measurement(), large: sides[1].runs.measurement() };
}

async function loginScenario(empty: VigilTarget, large: VigilTarget): Promise<{ empty: LoginMeasurement; large: LoginMeasurement }> {
  const cores = availableParallelism();
  const large1 = await measureLogins(large, ACCOUNTS, LOGIN_SECONDS, settings.BENCH_LOGIN_CONCURRENCY, cores);
  const emptyM = await measureLogins(empty, ACCOUNTS, LOGIN_SECONDS, settings.BENCH_LOGIN_CONCURRENCY, cores);
  return { empty: emptyM, large: large1 };
}

/** Bytes stored per refresh and per sign-in, on the empty-table server (its tables are small enough to scan). */
async function storedBytes(empty: VigilTarget, refresh: RefreshSide): Promise<{ refresh: StoredPerOperation[]; refreshes: number; signIn: StoredPerOperation[]; signIns: number }> {
  const { DATABASE_URL: db, REDIS_URL: redis } = empty.env;
  const before = await storageSnapshot(db, redis);
  const requests0 = refresh.measurement().requests;
  await refresh.run(settings.BENCH_BYTES_SECONDS);
  const refreshes = refresh.measurement().requests - requests0;
  const afterRefresh = await storageSnapshot(db, redis);
  const logins = await measureLogins(empty, ACCOUNTS, settings.BENCH_BYTES_SECONDS, settings.BENCH_LOGIN_CONCURRENCY, availableParallelism());
  const afterLogin = await storageSnapshot(db, redis);
  return {
    refresh: storedPerOperation(before, afterRefresh, refreshes), refreshes,
    signIn: storedPerOperation(afterRefresh, afterLogin, logins.logins), signIns: logins.logins,
  };
}

function printStored(title: string, rows: StoredPerOperation[]): void {
  console.log(`\n${title}`);
  console.table(rows.map((r) => ({
    store: r.store, 'table / key kind': r.table, 'rows/op': r.rowsPerOp.toFixed(2), 'row bytes/op': Math.round(r.rowBytesPerOp), 'on disk (with indexes) bytes/op': Math.round(r.diskBytesPerOp),
  })));
  const sum = (store: string, k: 'rowBytesPerOp' | 'diskBytesPerOp') => Math.round(rows.filter((r) => r.store === store).reduce((t, r) => t + r[k], 0));
  console.log(`  Postgres: ${sum('postgres', 'rowBytesPerOp')} bytes of rows, ${sum('postgres', 'diskBytesPerOp')} bytes on disk per operation; Redis: ${sum('redis', 'rowBytesPerOp')} bytes (MEMORY USAGE, until the keys expire)`);
}

function printRetention(r: RetentionOutcome): void {
  const quiet = sliceSummary(r.quiet);
  const during = sliceSummary(r.during);
  console.log(`\nRetention on the loaded database (keep ${r.keptDays} days): removed ${r.auditRemoved} audit entries and ${r.assessmentsRemoved} assessments in ${r.seconds.toFixed(1)} s`
    + ` (${Math.round((r.auditRemoved + r.assessmentsRemoved) / Math.max(0.001, r.seconds))} rows/s), while the loaded server refreshed:`);
  console.log(`  refresh during the removal (${r.during.length} slices): ${Math.round(during.rps)} requests/s, p99 ${during.p99} ms; before and after it: ${Math.round(quiet.rps)} requests/s, p99 ${quiet.p99} ms`
    + ` (during/quiet ${(during.rps / Math.max(1, quiet.rps)).toFixed(2)}×, p99 ${(during.p99 / Math.max(1, quiet.p99)).toFixed(2)}×)`);
}

function markdown(rows: { scenario: string; empty: { rps: number; p50: number; p99: number }; large: { rps: number; p50: number; p99: number } }[]): string {
  return [
    '| scenario | empty req/s | large req/s | large/empty | empty p50/p99 ms | large p50/p99 ms | p99 large/empty | targets (≥ 0.9×, p99 ≤ 1.2×) |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |',
    ...rows.map((r) => {
      const v = verdict(r.empty, r.large);
      return `| ${r.scenario} | ${r.empty.rps.toFixed(1)} | ${r.large.rps.toFixed(1)} | ${v.throughput.toFixed(2)} | ${r.empty.p50}/${r.empty.p99} | ${r.large.p50}/${r.large.p99} | ${v.p99.toFixed(2)} | ${v.met ? 'met' : 'MISSED'} |`;
    }),
  ].join('\n');
}

async function main() {
  const started = Date.now();
  log(`loading ${describeSizes(SIZES)}${settings.BENCH_SCALE_KEEP ? ` (or copying ${settings.BENCH_SCALE_KEEP}, kept by a run with these sizes)` : ''}`);
  // Loaded before the servers start: a Redis database is leased for 30 minutes, a full-scale load takes longer.
  const largeDb = await loadedDatabase(SIZES, settings.BENCH_SCALE_KEEP);
  const loadTimes: TableLoadTime[] = largeDb.loadTimes;
  // The loaded server starts on its loaded database: Vigil applies its migrations and adds the bench's accounts to it.
  const results = await Promise.allSettled([
    startVigilTarget('Vigil (empty tables)', ACCOUNTS),
    startVigilTarget('Vigil (large tables)', ACCOUNTS, {}, undefined, async () => largeDb),
  ]);
  // Dropped with its server; here in case that did not start (IF EXISTS: it may have dropped it already).
  if (results[1].status === 'rejected') await largeDb.drop().catch(() => {});
  const failed = results.find((r) => r.status === 'rejected');
  if (failed) {
    await Promise.all(results.map((r) => (r.status === 'fulfilled' ? r.value.stop() : undefined)));
    throw failed.reason;
  }
  const [empty, large] = results.map((r) => (r as PromiseFulfilledResult<VigilTarget>).value);
  try {
    const [emptyBlocks0, largeBlocks0] = await Promise.all([blockCounts(empty.env.DATABASE_URL), blockCounts(large.env.DATABASE_URL)]);

    const refresh = await refreshScenario(empty, large);
    const introspection = await introspectionScenario(empty, large);
    const login = await loginScenario(empty, large);
    // After the comparisons: it removes half the loaded trail.
    const retention = await retentionScenario(large, refresh.sides[1], SIZES.days, settings.BENCH_SCALE_REMOVE_DAYS, SECONDS, REFRESH_TOKEN_TTL_SECONDS);
    const [emptyBlocks1, largeBlocks1] = await Promise.all([blockCounts(empty.env.DATABASE_URL), blockCounts(large.env.DATABASE_URL)]);
    const hits: { empty: HitRate; large: HitRate } = { empty: hitRate(emptyBlocks0, emptyBlocks1), large: hitRate(largeBlocks0, largeBlocks1) };
    const sizes: TableSize[] = await tableSizes(large.env.DATABASE_URL);
    const stored = await storedBytes(empty, refresh.sides[0]);

    const rows = [refresh.row, introspection, { scenario: 'login (sign-ins/s)', empty: { rps: login.empty.loginsPerSecond, p50: login.empty.p50, p99: login.empty.p99 }, large: { rps: login.large.loginsPerSecond, p50: login.large.p50, p99: login.large.p99 } }];
    console.log(`\nLarge tables vs empty tables: ${describeSizes(SIZES)}.`);
    console.log(`${CONNECTIONS} connections, ${ROUNDS} slices of ${SECONDS} s per server and scenario (login: ${LOGIN_SECONDS} s, ${settings.BENCH_LOGIN_CONCURRENCY} at once), NODE_ENV=production, Postgres + Redis, loopback; ${availableParallelism()} cores (${cpus()[0]?.model}), Node ${process.version}`);
    console.table(rows.map((r) => {
      const v = verdict(r.empty, r.large);
      return {
        scenario: r.scenario, 'empty req/s': Math.round(r.empty.rps * 10) / 10, 'large req/s': Math.round(r.large.rps * 10) / 10, 'large/empty': v.throughput.toFixed(2),
        'empty p50/p99 ms': `${r.empty.p50}/${r.empty.p99}`, 'large p50/p99 ms': `${r.large.p50}/${r.large.p99}`, 'p99 large/empty': v.p99.toFixed(2), targets: v.met ? 'met' : 'MISSED',
      };
    }));
    for (const r of [refresh.row, introspection]) for (const [name, m] of [['empty', r.empty], ['large', r.large]] as const) if (m.errors || m.non2xx) console.log(`  ${r.scenario} (${name}): ${m.errors} errors, ${m.non2xx} non-2xx`);
    for (const side of refresh.sides) if (side.pool.firstError) console.log(`  ${side.name}: ${side.pool.refused} refused; first (${side.pool.firstError.status}): ${side.pool.firstError.body}`);
    for (const [name, m] of [['empty', login.empty], ['large', login.large]] as const) if (m.failed) console.log(`  login (${name}): ${m.failed} failed; first: ${m.firstError}`);
    const cpuPer = (side: RefreshSide) => (side.cpu.serverMs / side.measurement().requests).toFixed(2);
    console.log(`CPU per refresh: Vigil ${cpuPer(refresh.sides[0])} ms (empty) / ${cpuPer(refresh.sides[1])} ms (large); Postgres backends of the database ${refresh.postgresMsPerRefresh.empty.toFixed(2)} ms (empty) / ${refresh.postgresMsPerRefresh.large.toFixed(2)} ms (large)`);
    const pct = (x: number) => `${(x * 100).toFixed(2)} %`;
    console.log(`\nPostgres buffer hit rate during the scenarios (pg_statio_user_tables): large ${pct(hits.large.all)} (heap ${pct(hits.large.heap)}, index ${pct(hits.large.index)}, ${hits.large.blocksRead} blocks read), empty ${pct(hits.empty.all)}`);
    console.log('\nLoaded database, largest tables:');
    console.table(sizes.filter((s) => s.totalBytes > 1024 * 1024).map((s) => ({ table: s.table, rows: s.rows, 'total MB': mb(s.totalBytes), 'table MB': mb(s.heapBytes), 'indexes MB': mb(s.indexBytes) })));
    console.log(`  all tables: ${mb(sizes.reduce((t, s) => t + s.totalBytes, 0))} MB; load: ${loadTimes.map((t) => `${t.table} ${t.seconds.toFixed(1)} s`).join(', ')}`);
    printRetention(retention);
    printStored(`Stored per refresh (${stored.refreshes} refreshes on the empty-table server):`, stored.refresh);
    printStored(`Stored per sign-in (${stored.signIns} sign-ins, password + consent, on the empty-table server):`, stored.signIn);

    const dir = join(ROOT, 'bench', 'results');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'scale.json'), `${JSON.stringify({
      date: new Date().toISOString(), node: process.version, cpus: availableParallelism(), cpuModel: cpus()[0]?.model, durationSeconds: Math.round((Date.now() - started) / 1000),
      sizes: SIZES, settings, loadTimes, scenarios: rows.map((r) => ({ ...r, ...verdict(r.empty, r.large) })), login, postgresCpuMsPerRefresh: refresh.postgresMsPerRefresh,
      vigilCpuMsPerRefresh: refresh.sides.map((side) => side.cpu.serverMs / side.measurement().requests), bufferHitRate: hits, tableSizes: sizes, stored, retention, limits: SCALE_LIMITS,
    }, null, 2)}\n`);
    writeFileSync(join(dir, 'scale.md'), `${markdown(rows)}\n`);
    log(`results written to bench/results/scale.json and scale.md (${Math.round((Date.now() - started) / 1000)} s in all)`);
  } finally {
    await Promise.all([empty.stop(), large.stop()]);
  }
}

await main();
