/**
 * Two instances: two production-mode Vigil processes behind one issuer, on the same Postgres +
 * Redis and master key, the load split across both (an autocannon against each, at once), against
 * one instance taking the same total connections. Prints combined throughput, latency and each
 * process's CPU time per request (from /proc), from which docs/performance.md projects the scaling
 * on a bigger machine. On a machine with 2 cores this shows contention, not scaling.
 *
 *   npm run bench:two
 *   BENCH_SECONDS=5 npm run bench:two
 *
 * Settings: BENCH_SECONDS (10 per slice), BENCH_TWO_ROUNDS (3 slices per mode and scenario, the
 * order alternating), BENCH_CONNECTIONS (20 in all: one instance takes them all, two take half each),
 * BENCH_ACCOUNTS (50), BENCH_WARMUP_SECONDS (2).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';
import { freshDatabase, freshRedis } from '../test/support/services.ts';
import { freePort, ROOT, startVigil, type VigilProcess } from '../test/support/vigil-process.ts';
import { introspectionRequest } from './introspection.ts';
import { loadInto, Runs, type Measurement } from './measurement.ts';
import { withCpu } from './cpu-meter.ts';
import { RefreshSide } from './refresh.ts';
import type { VigilTarget } from './target.ts';
import { benchVigilEnv, provisionBench } from './vigil-target.ts';

const settings = z.object({
  BENCH_SECONDS: z.coerce.number().positive().default(10),
  BENCH_TWO_ROUNDS: z.coerce.number().int().positive().default(3),
  BENCH_CONNECTIONS: z.coerce.number().int().min(2).default(20),
  BENCH_ACCOUNTS: z.coerce.number().int().positive().default(50),
  BENCH_WARMUP_SECONDS: z.coerce.number().min(0).default(2),
}).parse(Object.fromEntries(Object.entries(process.env).filter(([k, v]) => k.startsWith('BENCH_') && v !== '')));
const { BENCH_SECONDS: SECONDS, BENCH_TWO_ROUNDS: ROUNDS, BENCH_CONNECTIONS: CONNECTIONS, BENCH_ACCOUNTS: ACCOUNTS } = settings;
const HALF = Math.floor(CONNECTIONS / 2);
const SESSIONS_PER_ACCOUNT = Math.max(2, Math.ceil((5 * CONNECTIONS) / ACCOUNTS));

const log = (line: string) => process.stderr.write(`${line}\n`);

/** One mode's CPU over every slice: each instance's, Postgres's and Redis's. */
class ModeCpu {
  readonly vigilMs: number[];
  postgresMs = 0;
  redisMs = 0;

  constructor(instances: number) {
    this.vigilMs = Array(instances).fill(0);
  }

  add(m: { vigilMs: number[]; postgresMs: number; redisMs: number }): void {
    m.vigilMs.forEach((ms, i) => { this.vigilMs[i] += ms; });
    this.postgresMs += m.postgresMs;
    this.redisMs += m.redisMs;
  }
}

interface ModeResult {
  mode: string;
  rps: number;
  p50: number;
  p99: number;
  requests: number;
  non2xx: number;
  instances: { rps: number; p50: number; p99: number; cpuMsPerRequest: number }[];
  postgresCpuMsPerRequest: number;
  redisCpuMsPerRequest: number;
}

function modeResult(mode: string, measurements: Measurement[], cpu: number[], postgresMs: number, redisMs: number): ModeResult {
  const requests = measurements.reduce((n, m) => n + m.requests, 0);
  return {
    mode, requests,
    rps: measurements.reduce((t, m) => t + m.rps, 0),
    // The worse instance's latencies: what a client of the pair may meet.
    p50: Math.max(...measurements.map((m) => m.p50)), p99: Math.max(...measurements.map((m) => m.p99)),
    non2xx: measurements.reduce((n, m) => n + m.non2xx + m.errors, 0),
    instances: measurements.map((m, i) => ({ rps: m.rps, p50: m.p50, p99: m.p99, cpuMsPerRequest: cpu[i] / Math.max(1, m.requests) })),
    postgresCpuMsPerRequest: postgresMs / Math.max(1, requests), redisCpuMsPerRequest: redisMs / Math.max(1, requests),
  };
}

async function refreshScenario(a: VigilTarget, b: VigilTarget): Promise<ModeResult[]> {
  const one = await RefreshSide.signIn('refresh, one instance', a, ACCOUNTS, SESSIONS_PER_ACCOUNT, CONNECTIONS);
  const twoA = await RefreshSide.signIn('refresh, two instances: A', a, ACCOUNTS, SESSIONS_PER_ACCOUNT, HALF);
  const twoB = await RefreshSide.signIn('refresh, two instances: B', b, ACCOUNTS, SESSIONS_PER_ACCOUNT, CONNECTIONS - HALF);
  for (const side of [one, twoA, twoB]) if (settings.BENCH_WARMUP_SECONDS > 0) await side.run(settings.BENCH_WARMUP_SECONDS, false);
  const db = a.env.DATABASE_URL;
  const cpu = { one: new ModeCpu(1), two: new ModeCpu(2) };
  const runOne = async () => {
    const m = await withCpu([], db, () => one.run(SECONDS));
    cpu.one.add(m);
    log(`refresh, one instance: ${Math.round(m.result.rps)} requests/s, p99 ${m.result.p99} ms`);
  };
  const runTwo = async () => {
    const m = await withCpu([], db, () => Promise.all([twoA.run(SECONDS), twoB.run(SECONDS)]));
    cpu.two.add(m);
    log(`refresh, two instances: ${Math.round(m.result[0].rps)} + ${Math.round(m.result[1].rps)} requests/s, p99 ${m.result[0].p99} / ${m.result[1].p99} ms`);
  };
  for (let round = 0; round < ROUNDS; round++) {
    for (const run of round % 2 === 0 ? [runOne, runTwo] : [runTwo, runOne]) await run();
  }
  // Vigil's CPU as the sides count it: without the restoring of the chains after each slice.
  return [
    modeResult('refresh, one instance', [one.measurement()], [one.cpu.serverMs], cpu.one.postgresMs, cpu.one.redisMs),
    modeResult('refresh, two instances', [twoA.measurement(), twoB.measurement()], [twoA.cpu.serverMs, twoB.cpu.serverMs], cpu.two.postgresMs, cpu.two.redisMs),
  ];
}

async function introspectionScenario(a: VigilTarget, b: VigilTarget): Promise<ModeResult[]> {
  const request = await introspectionRequest(a);
  const sides = {
    one: { runs: [new Runs(String(request.url), CONNECTIONS)], cpu: new ModeCpu(1) },
    two: { runs: [new Runs(String(request.url), HALF), new Runs(`${b.url}/token/introspection`, CONNECTIONS - HALF)], cpu: new ModeCpu(2) },
  };
  const runOne = async () => {
    sides.one.cpu.add(await withCpu([a.pid], a.env.DATABASE_URL, () => loadInto(sides.one.runs[0], a.pid, { ...request, connections: CONNECTIONS, duration: SECONDS })));
  };
  const runTwo = async () => {
    sides.two.cpu.add(await withCpu([a.pid, b.pid], a.env.DATABASE_URL, () => Promise.all([
      loadInto(sides.two.runs[0], a.pid, { ...request, connections: HALF, duration: SECONDS }),
      loadInto(sides.two.runs[1], b.pid, { ...request, url: `${b.url}/token/introspection`, connections: CONNECTIONS - HALF, duration: SECONDS }),
    ])));
  };
  for (let round = 0; round < ROUNDS; round++) {
    for (const run of round % 2 === 0 ? [runOne, runTwo] : [runTwo, runOne]) await run();
  }
  return (['one', 'two'] as const).map((mode) => {
    const { runs, cpu } = sides[mode];
    return modeResult(`introspection, ${mode} instance${mode === 'two' ? 's' : ''}`, runs.map((r) => r.measurement()), cpu.vigilMs, cpu.postgresMs, cpu.redisMs);
  });
}

function markdown(results: ModeResult[]): string {
  return [
    '| mode | req/s (sum) | p50/p99 ms (worst instance) | per instance req/s | Vigil CPU ms/request per instance | Postgres CPU ms/request | Redis CPU ms/request |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: |',
    ...results.map((r) => `| ${r.mode} | ${Math.round(r.rps)} | ${r.p50}/${r.p99} | ${r.instances.map((i) => Math.round(i.rps)).join(' + ')} | ${r.instances.map((i) => i.cpuMsPerRequest.toFixed(2)).join(' / ')} | ${r.postgresCpuMsPerRequest.toFixed(2)} | ${r.redisCpuMsPerRequest.toFixed(3)} |`),
  ].join('\n');
}

async function main() {
  const started = Date.now();
  const [db, redis] = await Promise.all([freshDatabase(), freshRedis()]);
  const processes: VigilProcess[] = [];
  try {
    const portA = await freePort();
    // One issuer for both (instance A's address): tokens, sessions and keys are shared through Postgres and Redis.
    const env = benchVigilEnv(db.url, redis.url, { ISSUER: `http://127.0.0.1:${portA}` });
    processes.push(await startVigil(env, { port: portA }));
    processes.push(await startVigil(env));
    const clients = await provisionBench(processes[0], ACCOUNTS);
    const [a, b] = processes.map((p, i): VigilTarget => ({
      label: `Vigil ${'AB'[i]}`, url: p.url, issuer: p.issuer, pid: p.pid, env, ...clients, stop: () => p.stop(),
    }));
    log(`two instances up (pids ${a.pid}, ${b.pid}), issuer ${a.issuer}`);
    const results = [...await refreshScenario(a, b), ...await introspectionScenario(a, b)];

    const cores = availableParallelism();
    console.log(`\nOne Vigil instance vs two behind one issuer (same Postgres + Redis), ${CONNECTIONS} connections in all, ${ROUNDS} slices of ${SECONDS} s per mode, NODE_ENV=production, loopback; ${cores} cores (${cpus()[0]?.model}), Node ${process.version}`);
    if (cores <= 2) console.log('On this machine the two instances, Postgres, Redis and the load generator share 2 cores: the two-instance figure shows contention, not scaling.');
    console.table(results.map((r) => ({
      mode: r.mode, 'req/s (sum)': Math.round(r.rps), 'p50/p99 ms': `${r.p50}/${r.p99}`, 'per instance req/s': r.instances.map((i) => Math.round(i.rps)).join(' + '),
      'Vigil CPU ms/req': r.instances.map((i) => i.cpuMsPerRequest.toFixed(2)).join(' / '), 'Postgres CPU ms/req': r.postgresCpuMsPerRequest.toFixed(2), 'Redis CPU ms/req': r.redisCpuMsPerRequest.toFixed(3), 'errors/non-2xx': r.non2xx,
    })));
    for (const scenario of ['refresh', 'introspection']) {
      const [one, two] = results.filter((r) => r.mode.startsWith(scenario));
      const vigilMs = two.instances.reduce((t, i) => t + i.cpuMsPerRequest * i.rps, 0) / two.rps;
      console.log(`${scenario}: two/one instance throughput ${(two.rps / one.rps).toFixed(2)}; CPU per request: Vigil ${vigilMs.toFixed(2)} ms (one instance: ${one.instances[0].cpuMsPerRequest.toFixed(2)} ms), Postgres ${two.postgresCpuMsPerRequest.toFixed(2)} ms, Redis ${two.redisCpuMsPerRequest.toFixed(3)} ms`
        + ` → one core of Vigil serves ≈ ${Math.round(1000 / vigilMs)} req/s (${Math.round(1000 / one.instances[0].cpuMsPerRequest)} at the one instance's cost)`
        + (two.postgresCpuMsPerRequest >= 0.05 ? `, one core of Postgres ≈ ${Math.round(1000 / two.postgresCpuMsPerRequest)} req/s` : ', Postgres hardly used'));
    }
    console.log('Postgres CPU: the backends serving this database (not the server\'s background processes); Redis CPU: the whole redis-server (other work on it included).');

    const dir = join(ROOT, 'bench', 'results');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'two.json'), `${JSON.stringify({ date: new Date().toISOString(), node: process.version, cpus: cores, cpuModel: cpus()[0]?.model, durationSeconds: Math.round((Date.now() - started) / 1000), settings, results }, null, 2)}\n`);
    writeFileSync(join(dir, 'two.md'), `${markdown(results)}\n`);
    log(`results written to bench/results/two.json and two.md (${Math.round((Date.now() - started) / 1000)} s in all)`);
  } finally {
    await Promise.all(processes.map((p) => p.stop()));
    await redis.close();
    await db.drop();
  }
}

await main();
