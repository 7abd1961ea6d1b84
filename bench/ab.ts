/**
 * A/B of two Vigil servers that differ only in their environment, on the refresh scenario (risk
 * engine on): both on the same machine at the same time, measured in turns, the order swapped
 * from round to round, so that the machine's drift weighs on both. For a change of setting, or of
 * code behind a temporary environment switch, that the main bench's noise would hide.
 *
 *   BENCH_A_ENV="VIGIL_DB_POOL_SIZE=4" BENCH_B_ENV="" npm run bench:ab
 *
 * Values cannot contain spaces. Settings: BENCH_SECONDS (8), BENCH_AB_ROUNDS (6),
 * BENCH_CONNECTIONS (20), BENCH_ACCOUNTS (50), BENCH_SESSIONS_PER_ACCOUNT (2).
 */
import { RefreshSide } from './refresh.ts';
import { envPairs, startVigilTarget } from './vigil-target.ts';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 8);
const ROUNDS = Number(process.env.BENCH_AB_ROUNDS ?? 6);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 20);
const ACCOUNTS = Number(process.env.BENCH_ACCOUNTS ?? 50);
const SESSIONS = Number(process.env.BENCH_SESSIONS_PER_ACCOUNT ?? 2);
const log = (line: string) => process.stderr.write(`${line}\n`);

const variants = (['A', 'B'] as const).map((name) => {
  const setting = `BENCH_${name}_ENV`;
  const given = process.env[setting] ?? '';
  return { name, given, env: envPairs(given, setting) };
});
const targets = await Promise.all(variants.map((v) => startVigilTarget(`Vigil ${v.name}`, ACCOUNTS, v.env)));
try {
  const sides: RefreshSide[] = [];
  for (const [i, target] of targets.entries()) sides.push(await RefreshSide.signIn(variants[i].name, target, ACCOUNTS, SESSIONS, CONNECTIONS));
  for (const side of sides) await side.run(2, false);
  for (let round = 0; round < ROUNDS; round++) {
    for (const i of round % 2 === 0 ? [0, 1] : [1, 0]) {
      const slice = await sides[i].run(SECONDS);
      log(`${variants[i].name} round ${round + 1}/${ROUNDS}: ${Math.round(slice.rps)} req/s, p50/p99 ${slice.p50}/${slice.p99} ms, RSS ${slice.rssAfterMb} MB`);
    }
  }
  const measured = sides.map((side) => side.measurement());
  console.table(measured.map((m, i) => ({
    variant: variants[i].name, env: variants[i].given, 'req/s': Math.round(m.rps), 'p50/p99 ms': `${m.p50}/${m.p99}`,
    'CPU ms/refresh': (sides[i].cpu.serverMs / m.requests).toFixed(3), 'peak RSS MB': m.peakRssMb, 'errors/non-2xx': `${m.errors}/${m.non2xx}`,
  })));
  console.log(`B/A refresh throughput: ${(measured[1].rps / measured[0].rps).toFixed(3)}`);
} finally {
  await Promise.all(targets.map((t) => t.stop()));
}
