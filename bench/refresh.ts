import autocannon from 'autocannon';
import * as oidc from 'openid-client';
import { basicAuth } from './accounts.ts';
import { AgentBrowser, authorizationRequest, inParallel, PERSON_AGENTS, signInAs, webClient, type WebClient } from './browsers.ts';
import { aggregate, Runs, type Measurement, type RawResult } from './measurement.ts';
import { cpuMs, PeakRss, postgresCpuMeter, rssMb } from './process-stats.ts';
import type { Target } from './target.ts';

/** The web client's back end, which refreshes on the person's behalf and forwards their address and agent. */
const BFF_AGENT = 'bench-web-backend/1.0';
/** Everything runs on loopback: the person's address is 127.0.0.1 (no location: "unknown location"). */
const PERSON_IP = '127.0.0.1';

/** One signed-in session's refresh-token chain: its live token, and the browser (session, agent) of the person. */
interface Chain { token: string; account: number; browser: AgentBrowser }

/** A new refresh token for the chain's session: through the authorization endpoint, signed in already (or again). */
async function mint(client: WebClient, chain: Pick<Chain, 'account' | 'browser'>): Promise<string> {
  const { url, verifier } = await authorizationRequest(client);
  const callback = await signInAs(client, chain.browser, chain.account, url);
  const tokens = await oidc.authorizationCodeGrant(client.config, new URL(callback), { pkceCodeVerifier: verifier });
  if (!tokens.refresh_token) throw new Error(`${client.target.label}: no refresh token for account ${chain.account}`);
  return tokens.refresh_token;
}

/**
 * Signs every account in through the login page, once per session (a session per device: each
 * with its own browser, agent and device cookie), and exchanges each code for tokens. The first
 * sessions of all accounts come first, so that the later ones meet an account with history.
 */
async function signInEveryone(client: WebClient, accounts: number, sessionsPerAccount: number): Promise<Chain[]> {
  const chains: Chain[] = [];
  for (let s = 0; s < sessionsPerAccount; s++) {
    await inParallel([...Array(accounts).keys()], 6, async (i) => {
      const browser = new AgentBrowser(PERSON_AGENTS[(i + s) % PERSON_AGENTS.length]);
      chains.push({ token: await mint(client, { account: i, browser }), account: i, browser });
    });
  }
  // Interleave accounts and sessions, so that consecutive refreshes are rarely the same person's.
  return chains.sort(() => Math.random() - 0.5);
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
  async restore(client: WebClient): Promise<number> {
    const lost = [...this.#inFlight];
    this.#inFlight.clear();
    await inParallel(lost, 6, async (chain) => {
      this.#waiting.push({ ...chain, token: await mint(client, chain) });
    });
    return lost.length;
  }

  get live(): number {
    return this.#waiting.length;
  }
}

export interface RefreshSlice { rps: number; p50: number; p99: number; peakRssMb: number; rssAfterMb: number }

/** One server's refresh runs: its chains, and every measured slice. */
export class RefreshSide {
  readonly name: string;
  readonly target: Target;
  readonly #client: WebClient;
  readonly pool: ChainPool;
  readonly #connections: number;
  readonly slices: RefreshSlice[] = [];
  /** CPU ms used over the measured slices: the server process, and Postgres (all of it). */
  readonly cpu = { serverMs: 0, postgresMs: 0 };
  readonly #runs: Runs;

  private constructor(name: string, client: WebClient, chains: Chain[], connections: number) {
    this.name = name;
    this.target = client.target;
    this.#client = client;
    this.pool = new ChainPool(chains);
    this.#connections = connections;
    this.#runs = new Runs(`${client.target.url}/token`, connections);
  }

  static async signIn(name: string, target: Target, accounts: number, sessionsPerAccount: number, connections: number): Promise<RefreshSide> {
    const client = await webClient(target);
    return new RefreshSide(name, client, await signInEveryone(client, accounts, sessionsPerAccount), connections);
  }

  #options(seconds: number): autocannon.Options {
    type Ctx = { chain?: Chain };
    const pool = this.pool;
    return {
      url: `${this.target.url}/token`,
      method: 'POST',
      connections: this.#connections,
      duration: seconds,
      skipAggregateResult: true,
      headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basicAuth(this.target.web), 'user-agent': BFF_AGENT },
      requests: [{
        setupRequest: (req, context) => {
          const chain = pool.take();
          (context as Ctx).chain = chain;
          // Never happens with more chains than connections; if it did, the refusal shows as a non-2xx answer.
          const token = chain?.token ?? 'no-chain-left';
          return {
            ...req,
            // Vigil's end-user forwarding headers; the baseline ignores them, but gets requests of the same size.
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

  /** A refresh run of `seconds`; measured (kept for the totals) unless it is a warm-up. Lost chains are restored after. */
  async run(seconds: number, measured = true): Promise<RefreshSlice> {
    const pid = this.target.pid;
    const cpu0 = cpuMs(pid);
    const postgresCpu = postgresCpuMeter();
    const sampler = new PeakRss(pid);
    let raw: RawResult;
    try {
      raw = await autocannon(this.#options(seconds)) as unknown as RawResult;
    } finally {
      sampler.stop();
    }
    const serverMs = cpuMs(pid) - cpu0;
    const postgresMs = postgresCpu();
    const one = aggregate([raw], `${this.target.url}/token`, this.#connections);
    const slice = { rps: raw.totalCompletedRequests / raw.duration, p50: one.latency.p50, p99: one.latency.p99, peakRssMb: sampler.stop(), rssAfterMb: rssMb(pid) };
    await this.pool.restore(this.#client);
    if (measured) {
      this.#runs.add(raw, slice.peakRssMb);
      this.slices.push(slice);
      this.cpu.serverMs += serverMs;
      this.cpu.postgresMs += postgresMs;
    }
    return slice;
  }

  /** Every measured slice together. */
  measurement(): Measurement {
    return this.#runs.measurement();
  }
}
