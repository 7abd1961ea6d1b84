/**
 * A/B of two Vigil servers that differ only in their environment or their code, on the refresh
 * scenario (risk engine on): both on the same machine at the same time, measured in turns, the
 * order swapped from round to round, so that the machine's drift weighs on both. For a change of
 * setting or of code that the main bench's noise would hide.
 *
 *   BENCH_A_ENV="VIGIL_DB_POOL_SIZE=4" BENCH_B_ENV="" npm run bench:ab
 *   git worktree add /tmp/before HEAD~1 && ln -s "$PWD/node_modules" /tmp/before/
 *   BENCH_A_CHECKOUT=/tmp/before npm run bench:ab      # the commit before vs this working tree
 *
 * Env values cannot contain spaces. BENCH_A_CHECKOUT / BENCH_B_CHECKOUT: another copy of Vigil
 * whose src/main.ts that side starts (the bench's own accounts and clients are made with this
 * tree's code and migrations). Settings: BENCH_SECONDS (8), BENCH_AB_ROUNDS (6),
 * BENCH_CONNECTIONS (20), BENCH_ACCOUNTS (50), BENCH_SESSIONS_PER_ACCOUNT (2).
 */
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
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
  const checkout = process.env[`BENCH_${name}_CHECKOUT`] ? resolve(process.env[`BENCH_${name}_CHECKOUT`]!) : undefined;
  if (checkout && !existsSync(join(checkout, 'src/main.ts'))) {
    throw new Error(`BENCH_${name}_CHECKOUT: ${checkout} holds no src/main.ts (give a checkout of Vigil, e.g. a git worktree)`);
  }
  return { name, given: checkout ? `${given} (${checkout})`.trim() : given, env: envPairs(given, setting), checkout };
});
const targets = await Promise.all(variants.map((v) => startVigilTarget(`Vigil ${v.name}`, ACCOUNTS, v.env, v.checkout)));
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
