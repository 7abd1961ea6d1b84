/**
 * A/B of two Vigil servers that differ only in their environment or their code, on the refresh
 * scenario (risk engine on) or on sign-ins (`BENCH_AB_SCENARIO=login`): both on the same machine
 * at the same time, measured in turns, the order swapped from round to round, so that the
 * machine's drift weighs on both. For a change of setting or of code that the main bench's noise
 * would hide.
 *
 *   BENCH_A_ENV="VIGIL_DB_POOL_SIZE=4" BENCH_B_ENV="" npm run bench:ab
 *   git worktree add /tmp/before HEAD~1 && ln -s "$PWD/node_modules" /tmp/before/
 *   BENCH_A_CHECKOUT=/tmp/before npm run bench:ab      # the commit before vs this working tree
 *   BENCH_AB_SCENARIO=login BENCH_A_CHECKOUT=/tmp/before npm run bench:ab   # CPU per sign-in
 *
 * Env values cannot contain spaces. BENCH_A_CHECKOUT / BENCH_B_CHECKOUT: another copy of Vigil
 * whose src/main.ts that side starts (the bench's own accounts and clients are made with this
 * tree's code and migrations). Settings: BENCH_AB_SCENARIO (refresh | login), BENCH_SECONDS (8),
 * BENCH_AB_ROUNDS (6), BENCH_CONNECTIONS (20), BENCH_ACCOUNTS (50), BENCH_SESSIONS_PER_ACCOUNT (2),
 * BENCH_LOGIN_CONCURRENCY (4).
 */
import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join, resolve } from 'node:path';
import { withCpu } from './cpu-meter.ts';
import { measureLogins } from './login.ts';
import { RefreshSide } from './refresh.ts';
import type { VigilTarget } from './target.ts';
import { envPairs, startVigilTarget } from './vigil-target.ts';

const SCENARIO = process.env.BENCH_AB_SCENARIO ?? 'refresh';
const SECONDS = Number(process.env.BENCH_SECONDS ?? 8);
const ROUNDS = Number(process.env.BENCH_AB_ROUNDS ?? 6);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 20);
const ACCOUNTS = Number(process.env.BENCH_ACCOUNTS ?? 50);
const SESSIONS = Number(process.env.BENCH_SESSIONS_PER_ACCOUNT ?? 2);
const LOGIN_CONCURRENCY = Number(process.env.BENCH_LOGIN_CONCURRENCY ?? 4);
const log = (line: string) => process.stderr.write(`${line}\n`);
if (SCENARIO !== 'refresh' && SCENARIO !== 'login') throw new Error(`BENCH_AB_SCENARIO: ${SCENARIO} is neither refresh nor login`);

const variants = (['A', 'B'] as const).map((name) => {
  const setting = `BENCH_${name}_ENV`;
  const given = process.env[setting] ?? '';
  const checkout = process.env[`BENCH_${name}_CHECKOUT`] ? resolve(process.env[`BENCH_${name}_CHECKOUT`]!) : undefined;
  if (checkout && !existsSync(join(checkout, 'src/main.ts'))) {
    throw new Error(`BENCH_${name}_CHECKOUT: ${checkout} holds no src/main.ts (give a checkout of Vigil, e.g. a git worktree)`);
  }
  return { name, given: checkout ? `${given} (${checkout})`.trim() : given, env: envPairs(given, setting), checkout };
});

/** The rounds in turns, the order swapped each round: `slice(i, round)` measures side i. */
async function inTurns(slice: (i: number, round: number) => Promise<string>): Promise<void> {
  for (let round = 0; round < ROUNDS; round++) {
    for (const i of round % 2 === 0 ? [0, 1] : [1, 0]) log(`${variants[i].name} round ${round + 1}/${ROUNDS}: ${await slice(i, round)}`);
  }
}

async function refreshAB(targets: VigilTarget[]): Promise<void> {
  const sides: RefreshSide[] = [];
  for (const [i, target] of targets.entries()) sides.push(await RefreshSide.signIn(variants[i].name, target, ACCOUNTS, SESSIONS, CONNECTIONS));
  for (const side of sides) await side.run(2, false);
  await inTurns(async (i) => {
    const slice = await sides[i].run(SECONDS);
    return `${Math.round(slice.rps)} req/s, p50/p99 ${slice.p50}/${slice.p99} ms, RSS ${slice.rssAfterMb} MB`;
  });
  const measured = sides.map((side) => side.measurement());
  console.table(measured.map((m, i) => ({
    variant: variants[i].name, env: variants[i].given, 'req/s': Math.round(m.rps), 'p50/p99 ms': `${m.p50}/${m.p99}`,
    'CPU ms/refresh': (sides[i].cpu.serverMs / m.requests).toFixed(3), 'peak RSS MB': m.peakRssMb, 'errors/non-2xx': `${m.errors}/${m.non2xx}`,
  })));
  console.log(`B/A refresh throughput: ${(measured[1].rps / measured[0].rps).toFixed(3)}`);
}

/** Sign-ins (fresh browsers, argon2id included): logins/s and the server's and its Postgres backends' CPU per sign-in. */
async function loginAB(targets: VigilTarget[]): Promise<void> {
  const sum = targets.map(() => ({ logins: 0, seconds: 0, vigilMs: 0, postgresMs: 0, failed: 0, p99s: [] as number[] }));
  const slice = async (i: number, seconds: number) => {
    const { result: m, vigilMs, postgresMs } = await withCpu([targets[i].pid], targets[i].env.DATABASE_URL, () => measureLogins(targets[i], ACCOUNTS, seconds, LOGIN_CONCURRENCY, availableParallelism()));
    if (m.firstError) log(`${variants[i].name}: ${m.failed} sign-ins failed; first: ${m.firstError}`);
    return { m, vigilMs: vigilMs[0], postgresMs };
  };
  for (const i of [0, 1]) await slice(i, 2);
  await inTurns(async (i) => {
    const { m, vigilMs, postgresMs } = await slice(i, SECONDS);
    const s = sum[i];
    Object.assign(s, { logins: s.logins + m.logins, seconds: s.seconds + m.seconds, vigilMs: s.vigilMs + vigilMs, postgresMs: s.postgresMs + postgresMs, failed: s.failed + m.failed });
    s.p99s.push(m.p99);
    return `${m.loginsPerSecond.toFixed(1)} logins/s, p50/p99 ${m.p50}/${m.p99} ms, CPU ${(vigilMs / m.logins).toFixed(1)} ms/login (Postgres ${(postgresMs / m.logins).toFixed(1)})`;
  });
  console.table(sum.map((s, i) => ({
    variant: variants[i].name, env: variants[i].given, 'logins/s': (s.logins / s.seconds).toFixed(1), 'median p99 ms': s.p99s.sort((a, b) => a - b)[s.p99s.length >> 1],
    'CPU ms/login': (s.vigilMs / s.logins).toFixed(1), 'Postgres CPU ms/login': (s.postgresMs / s.logins).toFixed(1), failed: s.failed,
  })));
  console.log(`B/A CPU per sign-in: ${((sum[1].vigilMs / sum[1].logins) / (sum[0].vigilMs / sum[0].logins)).toFixed(3)}`);
}

const targets = await Promise.all(variants.map((v) => startVigilTarget(`Vigil ${v.name}`, ACCOUNTS, v.env, v.checkout)));
try {
  await (SCENARIO === 'login' ? loginAB(targets) : refreshAB(targets));
} finally {
  await Promise.all(targets.map((t) => t.stop()));
}
