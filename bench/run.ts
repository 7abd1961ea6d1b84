/**
 * Load benchmark: a production-mode Vigil on Postgres + Redis, driven by autocannon over
 * loopback. Prints requests/s, p50/p99 latency and the server's memory for each scenario, and
 * writes them to bench/results/latest.json.
 *
 * The refresh scenario runs twice in the same run, against two Vigil processes set up alike
 * (each on a fresh database and Redis, same accounts, same token pool, same connections and
 * duration): one with the risk engine on (the main server), one with VIGIL_RISK_ENGINE=false.
 * The issue's budget: with the engine on, a refresh keeps at least 85% of the throughput.
 *
 *   npm run bench                       # every scenario, 10 s each
 *   BENCH_SECONDS=5 BENCH_CONNECTIONS=10 npm run bench -- refresh
 *
 * Other settings: BENCH_ACCOUNTS (50), BENCH_SESSIONS_PER_ACCOUNT (2, more when the
 * connections need it), BENCH_REFRESH_ROUNDS (3 alternating refresh runs per server, each
 * BENCH_SECONDS long), BENCH_WARMUP_SECONDS (2, refreshes on each server before the rounds),
 * BENCH_LOG_LEVEL (warn), BENCH_VIGIL_NODE_OPTIONS (NODE_OPTIONS of both Vigil processes).
 */
import autocannon from 'autocannon';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus } from 'node:os';
import { join } from 'node:path';
import * as oidc from 'openid-client';
import pg from 'pg';
import { loadConfig } from '../src/config/index.ts';
import { createLogger } from '../src/observability/index.ts';
import { openCore } from '../src/core.ts';
import { COMMANDS } from '../src/cli/commands.ts';
import { freshDatabase, freshRedis } from '../test/support/services.ts';
import { newMasterKey, ROOT, startVigil, type VigilProcess } from '../test/support/vigil-process.ts';
import { Browser, signIn, type Page } from '../test/support/browserless.ts';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 20);
const ACCOUNTS = Number(process.env.BENCH_ACCOUNTS ?? 50);
// Each session is one refresh-token chain, and a chain has one live token at a time: keep
// several times more chains than connections, so that no connection ever waits for one.
const SESSIONS_PER_ACCOUNT = Number(process.env.BENCH_SESSIONS_PER_ACCOUNT ?? Math.max(2, Math.ceil((5 * CONNECTIONS) / ACCOUNTS)));
const WARMUP_SECONDS = Number(process.env.BENCH_WARMUP_SECONDS ?? 2);
/** Refresh runs per server, alternating which goes first; each BENCH_SECONDS long. */
const ROUNDS = Number(process.env.BENCH_REFRESH_ROUNDS ?? 3);
/** The issue's budget: the engine may cost at most 15% of refresh throughput. */
const MIN_RATIO = 0.85;
const only = process.argv.slice(2);
const wantRefresh = only.length === 0 || only.includes('refresh');

/** Browsers people sign in with: each session keeps its own, at sign-in and at every refresh. */
const PERSON_AGENTS = [
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36',
  'Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1',
  'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15',
  'Mozilla/5.0 (X11; Linux x86_64; rv:127.0) Gecko/20100101 Firefox/127.0',
  'Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Mobile Safari/537.36',
];
/** The web client's back end, which refreshes on the person's behalf and forwards their address and agent. */
const BFF_AGENT = 'bench-web-backend/1.0';
/** Everything runs on loopback: the person's address is 127.0.0.1 (no location: "unknown location"). */
const PERSON_IP = '127.0.0.1';

interface Row { scenario: string; requests: number; rps: number; p50: number; p99: number; errors: number; non2xx: number; rssMb: number }

function rssMb(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Math.round(Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024);
}

const TICK_MS = 10; // Linux USER_HZ: 100 ticks a second

/** CPU time (user + system) a process has used, in ms. */
function cpuMs(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\) /s, '').split(' ');
  return (Number(fields[11]) + Number(fields[12])) * TICK_MS;
}

/** CPU time used by every Postgres process on this machine (the server runs on loopback), in ms. */
function postgresCpuMs(): number {
  let total = 0;
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      if (stat.includes('(postgres)')) total += cpuMs(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return total;
}

interface Measured { row: Row; rpsExact: number; statusCodes: Record<string, number> }

async function run(vigil: VigilProcess, scenario: string, options: autocannon.Options): Promise<Measured> {
  const result = await autocannon({ connections: CONNECTIONS, duration: SECONDS, ...options });
  return {
    row: {
      scenario,
      requests: result.requests.total,
      rps: Math.round(result.requests.average),
      p50: result.latency.p50,
      p99: result.latency.p99,
      errors: result.errors + result.timeouts,
      non2xx: result.non2xx,
      rssMb: rssMb(vigil.pid),
    },
    rpsExact: result.requests.average,
    statusCodes: Object.fromEntries(Object.entries(result.statusCodeStats ?? {}).map(([code, s]) => [code, (s as { count: number }).count])),
  };
}

const basic = (id: string, secret: string) => `Basic ${Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`).toString('base64')}`;

interface ClientInfo { client_id: string; client_secret: string }

interface Server {
  label: string;
  vigil: VigilProcess;
  env: Record<string, string>;
  redirect: string;
  web: ClientInfo;
  rs: ClientInfo;
  machine: ClientInfo;
  stop(): Promise<void>;
}

const account = (i: number) => ({ email: `user${String(i).padStart(3, '0')}@bench.test`, password: `bench user password ${i}` });

/** A fresh database and Redis, a Vigil on them, and the bench's accounts and clients. */
async function startServer(label: string, extraEnv: Record<string, string> = {}): Promise<Server> {
  const [db, redis] = await Promise.all([freshDatabase(), freshRedis()]);
  const env = {
    DATABASE_URL: db.url, REDIS_URL: redis.url, VIGIL_MASTER_KEY: newMasterKey(), VIGIL_ADMIN_EMAIL: 'root@bench.test', VIGIL_ADMIN_PASSWORD: 'bench admin password',
    NODE_ENV: 'production', LOG_LEVEL: process.env.BENCH_LOG_LEVEL ?? 'warn', VIGIL_LOGIN_MAX_FAILURES_PER_IP: '100000',
    // e.g. BENCH_VIGIL_NODE_OPTIONS="--cpu-prof --cpu-prof-dir=/tmp/vigil-prof" to profile both servers.
    ...(process.env.BENCH_VIGIL_NODE_OPTIONS ? { NODE_OPTIONS: process.env.BENCH_VIGIL_NODE_OPTIONS } : {}),
    ...extraEnv,
  };
  let vigil: VigilProcess;
  try {
    vigil = await startVigil(env);
  } catch (err) {
    await redis.close();
    await db.drop();
    throw err;
  }
  const stop = async () => {
    await vigil.stop();
    await redis.close();
    await db.drop();
  };
  try {
    // The CLI's own commands, in this process: spawning `vigil user create` costs ~2 s per account.
    const cliEnv = { ...vigil.env, ISSUER: vigil.issuer };
    const core = await openCore(loadConfig(cliEnv, ROOT), createLogger('warn', process.stderr as never));
    const cli = async <T>(argv: string[]) => (await COMMANDS[`${argv[0]} ${argv[1]}`](core, argv.slice(2))).data as T;
    try {
      const redirect = `${vigil.issuer}/bench-cb`;
      for (let i = 0; i < ACCOUNTS; i += 8) {
        await Promise.all(Array.from({ length: Math.min(8, ACCOUNTS - i) }, (_, j) => {
          const { email, password } = account(i + j);
          return cli(['user', 'create', '--email', email, '--password', password]);
        }));
      }
      // A confidential web client whose back end refreshes for the person and forwards their address and agent.
      const web = await cli<ClientInfo>(['client', 'create', '--name', 'bench web', '--redirect-uri', redirect, '--forward-end-user']);
      const rs = await cli<ClientInfo>(['client', 'create', '--name', 'bench api', '--resource-server', '--resource', 'https://api.bench.test', '--scope', 'read', '--token-format', 'opaque']);
      const machine = await cli<ClientInfo>(['client', 'create', '--name', 'bench job', '--grant-type', 'client_credentials', '--allow-resource', 'https://api.bench.test']);
      return { label, vigil, env, redirect, web, rs, machine, stop };
    } finally {
      await core.close();
    }
  } catch (err) {
    await stop();
    throw err;
  }
}

/** A person's browser that always sends its own User-Agent. */
class AgentBrowser extends Browser {
  readonly agent: string;

  constructor(agent: string) {
    super();
    this.agent = agent;
  }

  override request(url: string, init: RequestInit = {}): Promise<Page> {
    const headers = new Headers(init.headers);
    headers.set('user-agent', this.agent);
    return super.request(url, { ...init, headers });
  }
}

/** One signed-in session's refresh-token chain: its live token, and the browser (session, agent) of the person. */
interface Chain { token: string; account: number; browser: AgentBrowser }

interface Minter { server: Server; config: oidc.Configuration }

/** A new refresh token for the chain's session: through the authorization endpoint, signed in already (or again). */
async function mint(minter: Minter, chain: Pick<Chain, 'account' | 'browser'>): Promise<string> {
  const { server, config } = minter;
  const { email, password } = account(chain.account);
  const verifier = oidc.randomPKCECodeVerifier();
  const url = oidc.buildAuthorizationUrl(config, {
    redirect_uri: server.redirect, scope: 'openid', code_challenge: await oidc.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256',
  });
  const callback = await signIn(chain.browser, url.toString(), email, password, server.redirect);
  const tokens = await oidc.authorizationCodeGrant(config, new URL(callback), { pkceCodeVerifier: verifier });
  if (!tokens.refresh_token) throw new Error(`${server.label}: no refresh token for ${email}`);
  return tokens.refresh_token;
}

async function inParallel<T>(items: readonly T[], width: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(width, items.length) }, async () => {
    for (let i = next++; i < items.length; i = next++) await work(items[i]);
  }));
}

/**
 * Signs every account in through the real login page, once per session (a session per device:
 * each with its own browser, agent and device cookie), and exchanges each code for tokens. The
 * first sessions of all accounts come first, so that the later ones meet an account with history.
 */
async function signInEveryone(server: Server): Promise<{ minter: Minter; chains: Chain[] }> {
  const config = await oidc.discovery(new URL(server.vigil.issuer), server.web.client_id, server.web.client_secret, undefined, { execute: [oidc.allowInsecureRequests] });
  const minter = { server, config };
  const chains: Chain[] = [];
  for (let s = 0; s < SESSIONS_PER_ACCOUNT; s++) {
    await inParallel([...Array(ACCOUNTS).keys()], 6, async (i) => {
      const browser = new AgentBrowser(PERSON_AGENTS[(i + s) % PERSON_AGENTS.length]);
      chains.push({ token: await mint(minter, { account: i, browser }), account: i, browser });
    });
  }
  // Interleave accounts and sessions, so that consecutive refreshes are rarely the same person's.
  return { minter, chains: chains.sort(() => Math.random() - 0.5) };
}

/**
 * A pool of refresh-token chains. Every request takes the oldest waiting chain's token (each
 * token is used once) and the rotated token in the answer goes back to the pool, so a chain
 * refreshes strictly one after another, like its app would, only faster.
 */
class ChainPool {
  readonly #waiting: Chain[];
  readonly #inFlight = new Set<Chain>();
  readonly size: number;
  /** Refreshes refused (or answered without a new token): their chains end. */
  refused = 0;
  firstError?: { status: number; body: string };

  constructor(chains: Chain[]) {
    this.#waiting = [...chains];
    this.size = chains.length;
  }

  take(): Chain | undefined {
    const chain = this.#waiting.shift();
    if (chain) this.#inFlight.add(chain);
    return chain;
  }

  answered(chain: Chain, status: number, body: string): void {
    this.#inFlight.delete(chain);
    if (status === 200) {
      let rotated: string | undefined;
      try {
        rotated = (JSON.parse(body) as { refresh_token?: string }).refresh_token;
      } catch {
        // not a token response: counted below
      }
      if (rotated) {
        this.#waiting.push({ ...chain, token: rotated });
        return;
      }
    }
    this.refused += 1;
    this.firstError ??= { status, body };
  }

  /**
   * A run stops with tokens in flight: the server rotated them, the answers were dropped. Those
   * sessions get a new token through the authorization endpoint (signed in: no password, no
   * login assessment), so that every run starts with the same number of live chains.
   */
  async restore(minter: Minter): Promise<number> {
    const lost = [...this.#inFlight];
    this.#inFlight.clear();
    await inParallel(lost, 6, async (chain) => {
      this.#waiting.push({ ...chain, token: await mint(minter, chain) });
    });
    return lost.length;
  }

  get live(): number {
    return this.#waiting.length;
  }
}

function refreshOptions(server: Server, pool: ChainPool, seconds: number): autocannon.Options {
  type Ctx = { chain?: Chain };
  return {
    url: `${server.vigil.url}/token`,
    method: 'POST',
    connections: CONNECTIONS,
    duration: seconds,
    skipAggregateResult: true,
    headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basic(server.web.client_id, server.web.client_secret), 'user-agent': BFF_AGENT },
    requests: [{
      setupRequest: (req, context) => {
        const chain = pool.take();
        (context as Ctx).chain = chain;
        // Never happens with more chains than connections; if it did, the refusal shows as a non-2xx answer.
        const token = chain?.token ?? 'no-chain-left';
        return {
          ...req,
          headers: { ...req.headers, 'vigil-end-user-ip': PERSON_IP, 'vigil-end-user-agent': chain?.browser.agent ?? BFF_AGENT },
          body: `grant_type=refresh_token&refresh_token=${encodeURIComponent(token)}`,
        };
      },
      onResponse: (status, body, context) => {
        const chain = (context as Ctx).chain;
        (context as Ctx).chain = undefined;
        if (chain) pool.answered(chain, status, body);
      },
    }],
  };
}

/** The raw (not aggregated) result of one autocannon run, as `skipAggregateResult` gives it. */
interface RawResult { totalCompletedRequests: number; duration: number; errors: number; timeouts: number; non2xx: number }

/** autocannon's own merge of raw results (histograms and counts); its types do not declare it. */
const aggregate = (raw: RawResult[], url: string): autocannon.Result =>
  (autocannon as unknown as { aggregateResult(results: RawResult[], opts: autocannon.Options): autocannon.Result }).aggregateResult(raw, { url, connections: CONNECTIONS });

interface RefreshSide {
  name: string;
  server: Server;
  minter: Minter;
  pool: ChainPool;
  raw: RawResult[];
  rounds: { rps: number; p50: number; p99: number }[];
  rssMb: number;
  /** CPU ms used over the measured slices: the Vigil process, and Postgres (all of it). */
  cpu: { vigilMs: number; postgresMs: number };
}

/** One slice of a side's refresh run; its lost chains are restored afterwards. */
async function refreshSlice(side: RefreshSide, seconds: number): Promise<RawResult & { rps: number; p50: number; p99: number; vigilMs: number; postgresMs: number }> {
  const vigil0 = cpuMs(side.server.vigil.pid);
  const pg0 = postgresCpuMs();
  const raw = await autocannon(refreshOptions(side.server, side.pool, seconds)) as unknown as RawResult;
  const vigilMs = cpuMs(side.server.vigil.pid) - vigil0;
  const postgresMs = postgresCpuMs() - pg0;
  const one = aggregate([raw], `${side.server.vigil.url}/token`);
  side.rssMb = rssMb(side.server.vigil.pid);
  await side.pool.restore(side.minter);
  return { ...raw, rps: raw.totalCompletedRequests / raw.duration, p50: one.latency.p50, p99: one.latency.p99, vigilMs, postgresMs };
}

function refreshRow(side: RefreshSide): { row: Row; rpsExact: number; statusCodes: Record<string, number> } {
  const all = aggregate(side.raw, `${side.server.vigil.url}/token`);
  const requests = side.raw.reduce((n, r) => n + r.totalCompletedRequests, 0);
  const rpsExact = requests / side.raw.reduce((t, r) => t + r.duration, 0);
  return {
    row: {
      scenario: side.name,
      requests,
      rps: Math.round(rpsExact),
      p50: all.latency.p50,
      p99: all.latency.p99,
      errors: all.errors + all.timeouts,
      non2xx: all.non2xx,
      rssMb: side.rssMb,
    },
    rpsExact,
    statusCodes: Object.fromEntries(Object.entries(all.statusCodeStats ?? {}).map(([code, s]) => [code, (s as { count: number }).count])),
  };
}

interface EngineSummary {
  decisions: { type: string; action: string; count: number; avgScore: number; maxScore: number }[];
  refreshSignals: { name: string; count: number; avgPoints: number }[];
  /** The accounts' histories: how often they were written, and how big they are. */
  profiles: { accounts: number; writes: number; avgBytes: number; avgEvents: number; refreshEvents: number };
}

/** What the engine decided during the run, from the assessments it stored: proof that it ran, and why. */
async function engineSummary(server: Server): Promise<EngineSummary> {
  const db = new pg.Client({ connectionString: server.env.DATABASE_URL });
  await db.connect();
  try {
    const decisions = await db.query<{ type: string; action: string; count: string; avg: string; max: number }>(
      `SELECT type, decision->>'action' AS action, count(*) AS count, round(avg(score), 1) AS avg, max(score) AS max
       FROM risk_assessments GROUP BY 1, 2 ORDER BY 1, 2`);
    const signals = await db.query<{ name: string; count: string; avg: string }>(
      `SELECT s->>'name' AS name, count(*) AS count, round(avg((s->>'contribution')::numeric), 1) AS avg
       FROM risk_assessments, jsonb_array_elements(signals) AS s WHERE type = 'refresh' GROUP BY 1 ORDER BY 2 DESC, 1`);
    const profiles = await db.query<{ accounts: string; writes: string | null; bytes: string | null; events: string | null; refreshes: string | null }>(
      `SELECT count(*) AS accounts, sum(version) AS writes, round(avg(pg_column_size(history))) AS bytes,
         round(avg(jsonb_array_length(coalesce(history->'events', '[]'::jsonb))), 1) AS events,
         sum((SELECT count(*) FROM jsonb_array_elements(coalesce(history->'events', '[]'::jsonb)) AS e WHERE e->>'deviceId' IS NULL)) AS refreshes
       FROM risk_profiles`);
    const p = profiles.rows[0];
    return {
      profiles: { accounts: Number(p.accounts), writes: Number(p.writes ?? 0), avgBytes: Number(p.bytes ?? 0), avgEvents: Number(p.events ?? 0), refreshEvents: Number(p.refreshes ?? 0) },
      decisions: decisions.rows.map((r) => ({ type: r.type, action: r.action, count: Number(r.count), avgScore: Number(r.avg), maxScore: r.max })),
      refreshSignals: signals.rows.map((r) => ({ name: r.name, count: Number(r.count), avgPoints: Number(r.avg) })),
    };
  } finally {
    await db.end();
  }
}

function writeResults(results: unknown): string {
  const dir = join(ROOT, 'bench', 'results');
  mkdirSync(dir, { recursive: true });
  const file = join(dir, 'latest.json');
  writeFileSync(file, `${JSON.stringify(results, null, 2)}\n`);
  return file;
}

async function main() {
  const primary = await startServer('engine on');
  let off: Server | undefined;
  try {
    if (wantRefresh) off = await startServer('engine off', { VIGIL_RISK_ENGINE: 'false' });
    const { vigil, machine, rs } = primary;

    const sides: RefreshSide[] = [];
    if (off) {
      const started = Date.now();
      for (const [name, server] of [['refresh (risk engine on)', primary], ['refresh (risk engine off)', off]] as const) {
        const { minter, chains } = await signInEveryone(server);
        sides.push({ name, server, minter, pool: new ChainPool(chains), raw: [], rounds: [], rssMb: 0, cpu: { vigilMs: 0, postgresMs: 0 } });
      }
      process.stderr.write(`signed in ${ACCOUNTS} accounts × ${SESSIONS_PER_ACCOUNT} sessions on each server (${sides.map((x) => x.pool.size).join(' + ')} refresh-token chains) in ${Date.now() - started} ms\n`);
    }

    const cc = await oidc.clientCredentialsGrant(
      await oidc.discovery(new URL(vigil.issuer), machine.client_id, machine.client_secret, undefined, { execute: [oidc.allowInsecureRequests] }),
      { resource: 'https://api.bench.test', scope: 'read' },
    );

    const form = { 'content-type': 'application/x-www-form-urlencoded' };
    const scenarios: Array<[string, autocannon.Options]> = [
      ['discovery', { url: `${vigil.url}/.well-known/openid-configuration` }],
      ['jwks', { url: `${vigil.url}/jwks` }],
      ['client_credentials', { url: `${vigil.url}/token`, method: 'POST', headers: { ...form, authorization: basic(machine.client_id, machine.client_secret) }, body: 'grant_type=client_credentials&resource=https%3A%2F%2Fapi.bench.test&scope=read' }],
      ['introspection', { url: `${vigil.url}/token/introspection`, method: 'POST', headers: { ...form, authorization: basic(rs.client_id, rs.client_secret) }, body: `token=${cc.access_token}` }],
    ];
    const rows: Row[] = [];
    const measured: Record<string, Measured> = {};
    for (const [name, options] of scenarios) {
      if (only.length && !only.includes(name)) continue;
      const m = await run(vigil, name, options);
      rows.push(m.row);
      measured[name] = m;
      process.stderr.write(`${name} done\n`);
    }

    let comparison: { ratio: number; rpsOn: number; rpsOff: number; p99On: number; p99Off: number; roundRatios: number[]; withinBudget: boolean } | undefined;
    if (sides.length === 2) {
      // A warm-up on each server (JIT, pools, each chain's first refresh), then rounds that
      // alternate which server goes first (on, off | off, on | …), so that a drift in the
      // machine's load weighs on both alike. Every slice: the same live chains, connections, duration.
      for (const side of sides) {
        if (WARMUP_SECONDS > 0) await refreshSlice(side, WARMUP_SECONDS);
        if (side.pool.firstError) process.stderr.write(`${side.name}: warm-up refresh refused (${side.pool.firstError.status}): ${side.pool.firstError.body}\n`);
      }
      for (let round = 0; round < ROUNDS; round++) {
        for (const side of round % 2 === 0 ? sides : [...sides].reverse()) {
          const live = side.pool.live;
          const slice = await refreshSlice(side, SECONDS);
          side.raw.push(slice);
          side.cpu.vigilMs += slice.vigilMs;
          side.cpu.postgresMs += slice.postgresMs;
          side.rounds.push({ rps: Math.round(slice.rps * 10) / 10, p50: slice.p50, p99: slice.p99 });
          process.stderr.write(`${side.name} round ${round + 1}/${ROUNDS}: ${Math.round(slice.rps)} requests/s over ${live} chains\n`);
        }
      }
      const [on, offSide] = sides.map((side) => refreshRow(side));
      for (const [side, m] of [[sides[0], on], [sides[1], offSide]] as const) {
        rows.push(m.row);
        measured[side.name] = m;
        if (side.pool.firstError) {
          process.stderr.write(`${side.name}: ${side.pool.refused} refreshes refused; first answer (${side.pool.firstError.status}): ${side.pool.firstError.body}\n`);
        }
      }
      const ratio = on.rpsExact / offSide.rpsExact;
      comparison = {
        ratio, rpsOn: on.rpsExact, rpsOff: offSide.rpsExact, p99On: on.row.p99, p99Off: offSide.row.p99,
        roundRatios: sides[0].rounds.map((r, i) => Math.round((r.rps / sides[1].rounds[i].rps) * 100) / 100),
        withinBudget: ratio >= MIN_RATIO && on.row.non2xx === 0 && on.row.errors === 0,
      };
    }

    const engine = off ? await engineSummary(primary) : undefined;

    console.log(`\nVigil benchmark: ${CONNECTIONS} connections, ${SECONDS} s per scenario, NODE_ENV=production, Postgres + Redis on loopback`);
    if (off) console.log(`refresh: ${ACCOUNTS} accounts × ${SESSIONS_PER_ACCOUNT} sessions, each a rotating refresh-token chain; ${ROUNDS} rounds of ${SECONDS} s per server, alternating (${WARMUP_SECONDS} s warm-up each)`);
    console.table(rows);
    if (comparison) {
      console.log(`risk engine on/off refresh throughput: ${comparison.ratio.toFixed(2)} (p99 on ${comparison.p99On} ms / off ${comparison.p99Off} ms)`);
      console.log(`  per round: ${comparison.roundRatios.map((r) => r.toFixed(2)).join(', ')}`);
      for (const side of sides) {
        const requests = measured[side.name].row.requests;
        console.log(`  ${side.name}: CPU per refresh ${(side.cpu.vigilMs / requests).toFixed(2)} ms Vigil, ${(side.cpu.postgresMs / requests).toFixed(2)} ms Postgres`);
      }
      console.log(comparison.withinBudget
        ? `within the budget (engine on keeps ≥ ${MIN_RATIO * 100}% of the throughput, no refusals)`
        : `OUTSIDE the budget: engine on must keep ≥ ${MIN_RATIO * 100}% of the throughput with no refused refresh`);
    }
    if (engine) {
      console.log(`risk engine decisions (engine-on server, warm-up included): ${engine.decisions.map((d) => `${d.type} ${d.action} ×${d.count} (score avg ${d.avgScore}, max ${d.maxScore})`).join('; ')}`);
      console.log(`refresh signals: ${engine.refreshSignals.map((s) => `${s.name} ×${s.count} (avg ${s.avgPoints})`).join(', ')}`);
      const p = engine.profiles;
      console.log(`account histories: ${p.accounts} profiles, ${p.writes} writes in all, ~${p.avgBytes} bytes and ${p.avgEvents} events each (${p.refreshEvents} events without a device id, i.e. recorded refreshes)`);
    }
    const bad = rows.filter((r) => r.errors > 0 || r.non2xx > 0);
    if (bad.length) console.log(`scenarios with errors or non-2xx answers: ${bad.map((r) => r.scenario).join(', ')}`);

    const file = writeResults({
      date: new Date().toISOString(),
      node: process.version,
      cpus: availableParallelism(),
      cpuModel: cpus()[0]?.model,
      settings: { seconds: SECONDS, connections: CONNECTIONS, accounts: ACCOUNTS, sessionsPerAccount: SESSIONS_PER_ACCOUNT, refreshRounds: ROUNDS, warmupSeconds: WARMUP_SECONDS, scenarios: only.length ? only : 'all' },
      rows: rows.map((r) => ({ ...r, statusCodes: measured[r.scenario]?.statusCodes })),
      ...(comparison ? { riskEngine: { ...comparison, minRatio: MIN_RATIO } } : {}),
      ...(engine ? { riskEngineDecisions: engine } : {}),
      ...(sides.length ? {
        refresh: Object.fromEntries(sides.map((side) => {
          const requests = measured[side.name].row.requests;
          const perRequest = (ms: number) => Math.round((ms / requests) * 1000) / 1000;
          return [side.name, {
            chains: side.pool.size, rounds: side.rounds, refused: side.pool.refused, firstError: side.pool.firstError ?? null,
            cpuMsPerRequest: { vigil: perRequest(side.cpu.vigilMs), postgres: perRequest(side.cpu.postgresMs) },
          }];
        })),
      } : {}),
    });
    process.stderr.write(`results written to ${file}\n`);
  } finally {
    await Promise.all([primary.stop(), off?.stop()]);
  }
}

await main();
