/**
 * Traffic for fault tests: people with `offline_access` grants refreshing in loops, and people
 * signing in, through a store outage, as well-behaved clients do (a refresh that gets its new
 * tokens uses them next; one that does not tries its refresh token again; `invalid_grant` ends
 * the grant). Every answer is kept, with its time, for the test to judge.
 */
import * as oidc from 'openid-client';
import { Browser, signIn, type Page } from './browserless.ts';
import type { FaultServer } from './fault-servers.ts';
import { discover, pkceAuthorization, type ClientOut, type Stack } from './stack.ts';
import { vigilCli } from './vigil-process.ts';

export const PERSON = { email: 'outage@vigil.test', password: 'an outage password 42' };
const REDIRECT_URI = 'http://127.0.0.1:9/cb';

export interface OutageApp {
  issuer: string;
  client: ClientOut;
  config: oidc.Configuration;
}

/** The person and the relying party the traffic uses. */
export async function prepareApp(stack: Stack): Promise<OutageApp> {
  await vigilCli(stack.env, ['user', 'create', '--email', PERSON.email, '--password', PERSON.password, '--name', 'Outage']);
  const client = await vigilCli<ClientOut>(stack.env, ['client', 'create', '--name', 'Outage App', '--redirect-uri', REDIRECT_URI]);
  return { issuer: stack.vigil.issuer, client, config: await discover(stack.vigil.issuer, client) };
}

/** A browser that keeps the status of every page it was answered. */
class RecordingBrowser extends Browser {
  readonly statuses: number[] = [];

  override async request(url: string, init: RequestInit = {}): Promise<Page> {
    const page = await super.request(url, init);
    this.statuses.push(page.status);
    return page;
  }
}

/** A sign-in through the pages (in a browser of its own: a grant of its own), its code redeemed; the refresh token. */
export async function offlineGrant(app: OutageApp, browser = new Browser()): Promise<string> {
  const request = await pkceAuthorization(app.config, { redirect_uri: REDIRECT_URI, scope: 'openid offline_access', prompt: 'consent' });
  const callback = await signIn(browser, request.url, PERSON.email, PERSON.password, REDIRECT_URI);
  const tokens = await request.redeem(callback);
  if (!tokens.refresh_token) throw new Error('no refresh token');
  return tokens.refresh_token;
}

export interface Answer {
  status: number;
  error?: string;
  retryAfter?: string | null;
  ms: number;
  /** When it was sent (ms since the epoch). */
  at: number;
}

export interface RefreshAnswer extends Answer {
  refreshToken?: string;
}

/** One refresh at /token (client_secret_basic), as raw as a client sees it. */
export async function refresh(app: OutageApp, refreshToken: string): Promise<RefreshAnswer> {
  const at = Date.now();
  const response = await fetch(`${app.issuer}/token`, {
    method: 'POST',
    headers: {
      authorization: `Basic ${Buffer.from(`${app.client.client_id}:${app.client.client_secret}`).toString('base64')}`,
      'content-type': 'application/x-www-form-urlencoded',
      accept: 'application/json',
    },
    body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: refreshToken }),
  });
  const body = await response.json().catch(() => ({})) as { error?: string; refresh_token?: string };
  return { status: response.status, error: body.error, refreshToken: body.refresh_token, retryAfter: response.headers.get('retry-after'), ms: Date.now() - at, at };
}

const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

export interface RefreshLoop {
  answers: RefreshAnswer[];
  /** The refresh token the client holds now. */
  token: string;
  /** Told `invalid_grant`: the client lost its grant. */
  lost: boolean;
}

/** Refreshes until `running()` is false, every `paceMs`; a failed refresh is retried with the same token. */
export async function refreshLoop(app: OutageApp, token: string, running: () => boolean, paceMs = 100): Promise<RefreshLoop> {
  const loop: RefreshLoop = { answers: [], token, lost: false };
  while (running()) {
    const at = Date.now();
    const answer = await refresh(app, loop.token).catch((err: Error): RefreshAnswer => ({ status: 0, error: err.message, ms: Date.now() - at, at }));
    loop.answers.push(answer);
    if (answer.status === 200 && answer.refreshToken) loop.token = answer.refreshToken;
    else if (answer.error === 'invalid_grant') {
      loop.lost = true;
      break;
    }
    await pause(paceMs);
  }
  return loop;
}

export interface LoginLoop {
  /** Sign-ins that reached tokens. */
  completed: number[];
  /** Sign-ins that did not, with what stopped them. */
  failed: { at: number; reason: string }[];
  /** The status of every page any of its browsers was answered. */
  statuses: number[];
}

/** Signs in (a new browser each time) until `running()` is false. */
export async function loginLoop(app: OutageApp, running: () => boolean, paceMs = 150): Promise<LoginLoop> {
  const loop: LoginLoop = { completed: [], failed: [], statuses: [] };
  while (running()) {
    const at = Date.now();
    const browser = new RecordingBrowser();
    try {
      await offlineGrant(app, browser);
      loop.completed.push(at);
    } catch (err) {
      loop.failed.push({ at, reason: (err as Error).message.slice(0, 200) });
    }
    loop.statuses.push(...browser.statuses);
    await pause(paceMs);
  }
  return loop;
}

/** GET /readyz: its status and body. */
export async function readiness(issuer: string): Promise<{ status: number; ms: number; body: { status: string; checks: Record<string, string> } }> {
  const at = Date.now();
  const response = await fetch(`${issuer}/readyz`);
  return { status: response.status, ms: Date.now() - at, body: await response.json() as { status: string; checks: Record<string, string> } };
}

/** Waits until /readyz says ready again (bounded). */
export async function readyAgain(issuer: string, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while ((await readiness(issuer)).status !== 200) {
    if (Date.now() > deadline) throw new Error('Vigil did not become ready again');
    await pause(100);
  }
}

export interface Traffic {
  /** Stops the loops (idempotent) and returns what they saw. */
  stop(): Promise<{ refreshes: RefreshLoop[]; logins: LoginLoop }>;
}

/** A refresh loop per token and one sign-in loop, until stopped, and never longer than `maxMs`. */
export function startTraffic(app: OutageApp, tokens: string[], maxMs = 60_000): Traffic {
  let running = true;
  const until = Date.now() + maxMs;
  const on = () => running && Date.now() < until;
  const refreshes = Promise.all(tokens.map((token) => refreshLoop(app, token, on)));
  const logins = loginLoop(app, on);
  return {
    async stop() {
      running = false;
      return { refreshes: await refreshes, logins: await logins };
    },
  };
}

const GRANTS = 12;
const RETRY_LATER = { status: 503, error: 'temporarily_unavailable', retryAfter: expect.stringMatching(/^\d+$/) };

export interface Outage {
  refreshes: RefreshLoop[];
  logins: LoginLoop;
  /** A grant of its own, refreshed during the outage (the loops' tokens move on). */
  probe: string;
  killedAt: number;
  restartedAt: number;
}

/**
 * Grants refreshing in loops and people signing in while `server` (the store `check` in /readyz)
 * is killed and, some seconds later, started again. Right after the kill /readyz and a refresh
 * must say so at once and fail fast with a time to come back; `whileDown` adds a test's own checks.
 */
export async function outageUnderTraffic(app: OutageApp, server: FaultServer, check: string, whileDown: () => Promise<void> = async () => {}): Promise<Outage> {
  const tokens: string[] = [];
  for (let i = 0; i < GRANTS; i++) tokens.push(await offlineGrant(app));
  const probe = await offlineGrant(app);

  const traffic = startTraffic(app, tokens);
  let killedAt: number;
  let restartedAt: number;
  try {
    await pause(1500);
    await server.kill();
    killedAt = Date.now();
    await pause(300);

    const notReady = await readiness(app.issuer);
    expect(notReady.status).toBe(503);
    expect(notReady.body.checks[check]).toMatch(/^unavailable/);
    expect(notReady.ms).toBeLessThan(2500);
    const during = await refresh(app, probe);
    expect(during).toMatchObject(RETRY_LATER);
    expect(during.ms).toBeLessThan(1500);
    await whileDown();

    await pause(3700);
    await server.start();
    restartedAt = Date.now();
    await readyAgain(app.issuer);
    await pause(2000);
  } finally {
    await traffic.stop();
  }
  return { ...await traffic.stop(), probe, killedAt, restartedAt };
}

/**
 * What must hold after an outage: it was exercised (refreshes answered 503 while the store was
 * gone); every answer was tokens or 503 with Retry-After, never a hang or another 5xx; no grant
 * was lost or taken for a replay; people sign in again; the audit chain verifies.
 */
export async function expectRecovered(stack: Stack, app: OutageApp, { refreshes: loops, logins, probe, killedAt, restartedAt }: Outage): Promise<void> {
  const answers = loops.flatMap((l) => l.answers);
  expect(answers.filter((a) => a.at >= killedAt && a.at < restartedAt && a.status === 503).length).toBeGreaterThan(0);
  for (const a of answers) {
    if (a.status !== 200) expect(a).toMatchObject(RETRY_LATER);
    expect(a.ms).toBeLessThan(2500);
  }
  expect(logins.statuses.filter((s) => s >= 500 && s !== 503)).toEqual([]);

  // Each grant refreshes now, with the token its client holds; the probe's too (answered 503 during the outage).
  expect(loops.map((l) => l.lost)).toEqual(loops.map(() => false));
  for (const loop of loops) expect(await refresh(app, loop.token)).toMatchObject({ status: 200 });
  expect(await refresh(app, probe)).toMatchObject({ status: 200 });
  expect(stack.vigil.output()).not.toContain('refresh token reuse detected');

  expect(logins.completed.some((at) => at > restartedAt)).toBe(true);
  await expect(offlineGrant(app)).resolves.toEqual(expect.any(String));

  const audit = await vigilCli<{ ok: boolean; entries: number }>(stack.env, ['audit', 'verify']);
  expect(audit.ok).toBe(true);
}
