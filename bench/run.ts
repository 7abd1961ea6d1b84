/**
 * Load benchmark: production-mode Vigil on Postgres + Redis against a bare oidc-provider
 * baseline (bench/baseline-server.ts, in-memory), both driven over loopback in the same run.
 * Prints requests/s, p50/p99 latency and each server's peak RSS per scenario, Vigil/baseline
 * ratios, and whether the targets are met; writes bench/results/latest.json (and the
 * table in Markdown, latest.md). docs/performance.md explains the scenarios and the targets.
 *
 *   npm run bench                                   # every scenario, 10 s each (~5 min on 2 cores)
 *   BENCH_SECONDS=5 npm run bench -- refresh        # some scenarios only
 *
 * Scenarios: discovery, jwks, client_credentials, introspection, refresh, login.
 *
 * refresh runs against three servers set up alike (same accounts, same pool of refresh-token
 * chains, connections and duration): Vigil with the risk engine on, Vigil with
 * VIGIL_RISK_ENGINE=false (each on a fresh database and Redis), and the baseline. After a
 * warm-up, two refresh runs of BENCH_REFRESH_ROUNDS rounds each; a round gives every server one
 * slice of BENCH_SECONDS, the order rotating from round to round so that a drift in the
 * machine's load weighs on all alike. RSS is read after each run: growth is a leak.
 *
 * discovery, jwks, client_credentials and introspection give each server BENCH_SIMPLE_ROUNDS (2)
 * slices of BENCH_SECONDS in turns, the order swapped from round to round.
 *
 * Other settings: BENCH_CONNECTIONS (20), BENCH_ACCOUNTS (50), BENCH_SESSIONS_PER_ACCOUNT (2,
 * more when the connections need it), BENCH_REFRESH_ROUNDS (3 per run), BENCH_WARMUP_SECONDS
 * (2), BENCH_LOGIN_SECONDS (BENCH_SECONDS), BENCH_LOGIN_CONCURRENCY (4), BENCH_LOG_LEVEL (warn),
 * BENCH_VIGIL_NODE_OPTIONS (NODE_OPTIONS of the Vigil processes), BENCH_BASELINE_NODE_OPTIONS.
 */
import type autocannon from 'autocannon';
import { mkdirSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus } from 'node:os';
import { join } from 'node:path';
import { ROOT } from '../test/support/vigil-process.ts';
import { basicAuth, RESOURCES } from './accounts.ts';
import { startBaselineTarget } from './baseline-target.ts';
import { engineSummary, printEngineSummary, type EngineSummary } from './engine-summary.ts';
import { introspectionRequest } from './introspection.ts';
import { evaluateGoals, LIMITS, printGoals, type GoalInputs } from './goals.ts';
import { measureLogins } from './login.ts';
import { loadInto, Runs } from './measurement.ts';
import { rssMb } from './process-stats.ts';
import { RefreshSide } from './refresh.ts';
import { markdownTable, printTable, type Compared, type LoginCompared } from './report.ts';
import type { Target, VigilTarget } from './target.ts';
import { startVigilTarget } from './vigil-target.ts';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 20);
const ACCOUNTS = Number(process.env.BENCH_ACCOUNTS ?? 50);
// Each session is one refresh-token chain, and a chain has one live token at a time: keep
// several times more chains than connections, so that no connection ever waits for one.
const SESSIONS_PER_ACCOUNT = Number(process.env.BENCH_SESSIONS_PER_ACCOUNT ?? Math.max(2, Math.ceil((5 * CONNECTIONS) / ACCOUNTS)));
const WARMUP_SECONDS = Number(process.env.BENCH_WARMUP_SECONDS ?? 2);
/** Rounds per refresh run; there are two runs, to see whether memory grows from one to the next. */
const ROUNDS = Number(process.env.BENCH_REFRESH_ROUNDS ?? 3);
/** Slices per server for discovery, jwks, client_credentials and introspection. */
const SIMPLE_ROUNDS = Number(process.env.BENCH_SIMPLE_ROUNDS ?? 2);
const REFRESH_RUNS = 2;
const LOGIN_SECONDS = Number(process.env.BENCH_LOGIN_SECONDS ?? SECONDS);
// libuv's thread pool (4 threads) runs argon2: more people at once only queue.
const LOGIN_CONCURRENCY = Number(process.env.BENCH_LOGIN_CONCURRENCY ?? 4);
const CORES = availableParallelism();

const SCENARIOS = ['discovery', 'jwks', 'client_credentials', 'introspection', 'refresh', 'login'] as const;
type Scenario = typeof SCENARIOS[number];
const only = process.argv.slice(2);
for (const name of only) if (!(SCENARIOS as readonly string[]).includes(name)) throw new Error(`unknown scenario ${name}; one of ${SCENARIOS.join(', ')}`);
const wants = (s: Scenario) => only.length === 0 || only.includes(s);

const log = (line: string) => process.stderr.write(`${line}\n`);

interface Targets { vigil: VigilTarget; engineOff?: VigilTarget; baseline: Target }

async function startTargets(): Promise<Targets> {
  const started = Date.now();
  const results = await Promise.allSettled([
    startVigilTarget('Vigil', ACCOUNTS),
    wants('refresh') ? startVigilTarget('Vigil (risk engine off)', ACCOUNTS, { VIGIL_RISK_ENGINE: 'false' }) : Promise.resolve(undefined),
    startBaselineTarget(ACCOUNTS),
  ]);
  const failed = results.find((r) => r.status === 'rejected');
  if (failed) {
    await Promise.all(results.map((r) => (r.status === 'fulfilled' ? r.value?.stop() : undefined)));
    throw failed.reason;
  }
  const [vigil, engineOff, baseline] = results.map((r) => (r as PromiseFulfilledResult<Target | undefined>).value);
  log(`servers up in ${Date.now() - started} ms`);
  return { vigil: vigil as VigilTarget, engineOff: engineOff as VigilTarget | undefined, baseline: baseline! };
}

type SimpleScenario = Exclude<Scenario, 'refresh' | 'login'>;

/** What autocannon sends to `target` in `scenario`. */
async function scenarioOptions(target: Target, scenario: SimpleScenario): Promise<autocannon.Options> {
  const form = { 'content-type': 'application/x-www-form-urlencoded' };
  const options: Record<typeof scenario, () => Promise<autocannon.Options>> = {
    discovery: async () => ({ url: `${target.url}/.well-known/openid-configuration` }),
    jwks: async () => ({ url: `${target.url}/jwks` }),
    client_credentials: async () => ({
      url: `${target.url}/token`, method: 'POST', headers: { ...form, authorization: basicAuth(target.machine) },
      body: `grant_type=client_credentials&resource=${encodeURIComponent(RESOURCES.jwt)}&scope=read`,
    }),
    introspection: () => introspectionRequest(target),
  };
  return { connections: CONNECTIONS, duration: SECONDS, ...(await options[scenario]()) };
}

/**
 * Vigil and the baseline in turns: SIMPLE_ROUNDS slices of SECONDS each, the order swapped from
 * round to round, so that a drift in the machine's load weighs on both.
 */
async function simpleScenario(targets: Targets, scenario: SimpleScenario): Promise<Required<Compared>> {
  const sides = await Promise.all([targets.vigil, targets.baseline].map(async (target) => {
    const options = await scenarioOptions(target, scenario);
    return { target, options, runs: new Runs(String(options.url), CONNECTIONS) };
  }));
  for (let round = 0; round < SIMPLE_ROUNDS; round += 1) {
    for (const side of round % 2 === 0 ? sides : [...sides].reverse()) await loadInto(side.runs, side.target.pid, side.options);
  }
  const [vigil, baseline] = sides.map((side) => side.runs.measurement());
  return { scenario, vigil, baseline };
}

interface RefreshOutcome {
  sides: RefreshSide[];
  /** RSS (MB) of each side's server after each refresh run. */
  rssAfterRun: number[][];
}

async function refreshScenario(targets: Targets): Promise<RefreshOutcome> {
  const started = Date.now();
  const sides = [
    await RefreshSide.signIn('refresh (risk engine on)', targets.vigil, ACCOUNTS, SESSIONS_PER_ACCOUNT, CONNECTIONS),
    await RefreshSide.signIn('refresh (risk engine off)', targets.engineOff!, ACCOUNTS, SESSIONS_PER_ACCOUNT, CONNECTIONS),
    await RefreshSide.signIn('refresh (baseline)', targets.baseline, ACCOUNTS, SESSIONS_PER_ACCOUNT, CONNECTIONS),
  ];
  log(`signed in ${ACCOUNTS} accounts × ${SESSIONS_PER_ACCOUNT} sessions on each server (${sides.map((s) => s.pool.size).join(' + ')} refresh-token chains) in ${Date.now() - started} ms`);
  // A warm-up (JIT, pools, each chain's first refresh), not measured.
  for (const side of sides) {
    if (WARMUP_SECONDS > 0) await side.run(WARMUP_SECONDS, false);
    if (side.pool.firstError) log(`${side.name}: warm-up refresh refused (${side.pool.firstError.status}): ${side.pool.firstError.body}`);
  }
  const rssAfterRun: number[][] = [];
  for (let run = 0; run < REFRESH_RUNS; run++) {
    for (let round = 0; round < ROUNDS; round++) {
      const k = run * ROUNDS + round;
      for (const side of sides.map((_, i) => sides[(i + k) % sides.length])) {
        const live = side.pool.live;
        const slice = await side.run(SECONDS);
        log(`${side.name} run ${run + 1} round ${round + 1}/${ROUNDS}: ${Math.round(slice.rps)} requests/s over ${live} chains, RSS ${slice.rssAfterMb} MB`);
      }
    }
    rssAfterRun.push(sides.map((side) => rssMb(side.target.pid)));
  }
  return { sides, rssAfterRun };
}

function writeResults(results: unknown, markdown: string): string {
  const dir = join(ROOT, 'bench', 'results');
  mkdirSync(dir, { recursive: true });
  const file = join(dir, 'latest.json');
  writeFileSync(file, `${JSON.stringify(results, null, 2)}\n`);
  writeFileSync(join(dir, 'latest.md'), `${markdown}\n`);
  return file;
}

async function main() {
  const benchStarted = Date.now();
  const targets = await startTargets();
  try {
    const compared: Compared[] = [];
    for (const scenario of ['discovery', 'jwks', 'client_credentials', 'introspection'] as const) {
      if (!wants(scenario)) continue;
      const result = await simpleScenario(targets, scenario);
      compared.push(result);
      log(`${scenario}: Vigil ${Math.round(result.vigil.rps)} / baseline ${Math.round(result.baseline.rps)} requests/s`);
    }

    let refresh: RefreshOutcome | undefined;
    let engine: EngineSummary | undefined;
    if (wants('refresh')) {
      refresh = await refreshScenario(targets);
      const [on, off, base] = refresh.sides.map((side) => side.measurement());
      compared.push({ scenario: 'refresh (risk engine on)', vigil: on, baseline: base }, { scenario: 'refresh (risk engine off)', vigil: off, baseline: base });
      engine = await engineSummary(targets.vigil.env.DATABASE_URL);
    }

    let login: LoginCompared | undefined;
    if (wants('login')) {
      const vigil = await measureLogins(targets.vigil, ACCOUNTS, LOGIN_SECONDS, LOGIN_CONCURRENCY, CORES);
      const baseline = await measureLogins(targets.baseline, ACCOUNTS, LOGIN_SECONDS, LOGIN_CONCURRENCY, CORES);
      login = { vigil, baseline };
      log(`login: Vigil ${vigil.loginsPerSecond.toFixed(1)} / baseline ${baseline.loginsPerSecond.toFixed(1)} logins/s`);
      for (const [name, m] of [['Vigil', vigil], ['baseline', baseline]] as const) if (m.firstError) log(`${name}: ${m.failed} logins failed; first: ${m.firstError}`);
    }

    const find = (scenario: string) => compared.find((c) => c.scenario === scenario);
    const [onSide, offSide] = refresh?.sides ?? [];
    const goalInputs: GoalInputs = {
      refreshOn: find('refresh (risk engine on)')?.vigil,
      refreshOff: find('refresh (risk engine off)')?.vigil,
      refreshBaseline: find('refresh (risk engine on)')?.baseline,
      refreshRefusedOn: onSide?.pool.refused,
      introspection: find('introspection') as GoalInputs['introspection'],
      clientCredentials: find('client_credentials') as GoalInputs['clientCredentials'],
      rssAfterRuns: refresh ? [refresh.rssAfterRun[0][0], refresh.rssAfterRun[REFRESH_RUNS - 1][0]] : undefined,
    };
    const goals = evaluateGoals(goalInputs);

    console.log(`\nVigil vs bare oidc-provider: ${CONNECTIONS} connections, ${SECONDS} s per scenario, NODE_ENV=production, loopback; ${CORES} cores (${cpus()[0]?.model}), Node ${process.version}`);
    if (refresh) console.log(`refresh: ${ACCOUNTS} accounts × ${SESSIONS_PER_ACCOUNT} sessions per server, each a rotating refresh-token chain; ${REFRESH_RUNS} runs × ${ROUNDS} rounds of ${SECONDS} s per server, rotating order (${WARMUP_SECONDS} s warm-up each)`);
    printTable(compared, login);
    if (login) {
      console.log(`login per core (${CORES} cores, ${LOGIN_CONCURRENCY} at once): Vigil ${login.vigil.loginsPerSecondPerCore.toFixed(1)}, baseline ${login.baseline.loginsPerSecondPerCore.toFixed(1)} logins/s/core; server CPU per login: Vigil ${login.vigil.serverCpuMsPerLogin.toFixed(1)} ms, baseline ${login.baseline.serverCpuMsPerLogin.toFixed(1)} ms`);
    }
    if (refresh) {
      const [on, off] = [onSide, offSide].map((s) => s.measurement());
      const perRound = onSide.slices.map((s, i) => (s.rps / offSide.slices[i].rps).toFixed(2));
      console.log(`risk engine on/off refresh throughput: ${(on.rps / off.rps).toFixed(2)} (p99 on ${on.p99} ms / off ${off.p99} ms); per round: ${perRound.join(', ')}`);
      for (const side of refresh.sides) {
        const requests = side.measurement().requests;
        console.log(`  ${side.name}: CPU per refresh ${(side.cpu.serverMs / requests).toFixed(2)} ms server, ${(side.cpu.postgresMs / requests).toFixed(2)} ms Postgres; RSS after run 1 / run 2: ${refresh.rssAfterRun.map((r) => r[refresh!.sides.indexOf(side)]).join(' / ')} MB`);
        if (side.pool.firstError) console.log(`  ${side.name}: ${side.pool.refused} refreshes refused; first answer (${side.pool.firstError.status}): ${side.pool.firstError.body}`);
      }
    }
    if (engine) printEngineSummary(engine);
    const bad = compared.filter((c) => c.vigil.errors > 0 || c.vigil.non2xx > 0 || (c.baseline && (c.baseline.errors > 0 || c.baseline.non2xx > 0)));
    if (bad.length) console.log(`scenarios with errors or non-2xx answers: ${bad.map((c) => c.scenario).join(', ')}`);
    printGoals(goals);

    const file = writeResults({
      date: new Date().toISOString(),
      node: process.version,
      cpus: CORES,
      cpuModel: cpus()[0]?.model,
      durationSeconds: Math.round((Date.now() - benchStarted) / 1000),
      settings: {
        seconds: SECONDS, connections: CONNECTIONS, accounts: ACCOUNTS, sessionsPerAccount: SESSIONS_PER_ACCOUNT, refreshRuns: REFRESH_RUNS, refreshRounds: ROUNDS,
        warmupSeconds: WARMUP_SECONDS, loginSeconds: LOGIN_SECONDS, loginConcurrency: LOGIN_CONCURRENCY, scenarios: only.length ? only : 'all',
        vigilNodeOptions: process.env.BENCH_VIGIL_NODE_OPTIONS ?? null, baselineNodeOptions: process.env.BENCH_BASELINE_NODE_OPTIONS ?? null,
      },
      scenarios: compared.map((c) => ({ ...c, ratio: c.baseline ? c.vigil.rps / c.baseline.rps : null })),
      ...(login ? { login } : {}),
      ...(refresh ? {
        refresh: Object.fromEntries(refresh.sides.map((side, i) => {
          const requests = side.measurement().requests;
          const perRequest = (ms: number) => Math.round((ms / requests) * 1000) / 1000;
          return [side.name, {
            chains: side.pool.size, slices: side.slices, refused: side.pool.refused, firstError: side.pool.firstError ?? null,
            cpuMsPerRequest: { server: perRequest(side.cpu.serverMs), postgres: perRequest(side.cpu.postgresMs) },
            rssAfterRunMb: refresh!.rssAfterRun.map((r) => r[i]),
          }];
        })),
      } : {}),
      ...(engine ? { riskEngineDecisions: engine } : {}),
      limits: LIMITS,
      goals,
    }, markdownTable(compared, login));
    log(`results written to ${file} (${Math.round((Date.now() - benchStarted) / 1000)} s in all)`);
  } finally {
    await Promise.all([targets.vigil.stop(), targets.engineOff?.stop(), targets.baseline.stop()]);
  }
}

await main();
