/**
 * Revocation propagation: two production-mode Vigil instances on one Postgres and one Redis (as
 * behind a load balancer). For each of BENCH_REVOCATIONS signed-in sessions (default 200), the
 * bench asks instance A's admin API to revoke the session and, from the same moment, polls
 * instance B's introspection with the session's opaque access token until it answers
 * `active: false`. It prints p50/p99/max of that time, and of the time until the revocation
 * event reached a listener on the bus. The issue's aim: p99 under 250 ms.
 *
 *   npm run bench:revocation
 *   BENCH_REVOCATIONS=300 npm run bench:revocation
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as oidc from 'openid-client';
import { connectRedis, type Stores } from '../src/store/index.ts';
import { openRevocationBus, type RevocationEvent } from '../src/sessions/index.ts';
import { createLogger } from '../src/observability/index.ts';
import { freshDatabase, freshRedis } from '../test/support/services.ts';
import { newMasterKey, ROOT, startVigil, vigilCli, type VigilProcess } from '../test/support/vigil-process.ts';
import { openCore } from '../src/core.ts';
import { COMMANDS } from '../src/cli/commands.ts';
import { loadConfig } from '../src/config/index.ts';
import { Browser, signIn } from '../test/support/browserless.ts';

const REVOCATIONS = Number(process.env.BENCH_REVOCATIONS ?? 200);
const PASSWORD = 'bench revocation password 1';
const API = 'https://api.revocation.bench.test';
/** The aim in the issue. */
const P99_AIM_MS = 250;

interface ClientOut { client_id: string; client_secret: string }

const basic = (c: ClientOut) => `Basic ${Buffer.from(`${encodeURIComponent(c.client_id)}:${encodeURIComponent(c.client_secret)}`).toString('base64')}`;

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

function summary(values: number[]) {
  const sorted = [...values].sort((a, b) => a - b);
  const round = (n: number) => Math.round(n * 10) / 10;
  return { count: sorted.length, p50: round(percentile(sorted, 50)), p99: round(percentile(sorted, 99)), max: round(sorted[sorted.length - 1]) };
}

async function inParallel<T>(items: readonly T[], width: number, work: (item: T, index: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(width, items.length) }, async () => {
    for (let i = next++; i < items.length; i = next++) await work(items[i], i);
  }));
}

async function main(): Promise<void> {
  const [db, redis] = await Promise.all([freshDatabase(), freshRedis()]);
  const env: Record<string, string> = {
    DATABASE_URL: db.url, REDIS_URL: redis.url, VIGIL_MASTER_KEY: newMasterKey(), NODE_ENV: 'production', LOG_LEVEL: 'warn',
    VIGIL_ADMIN_EMAIL: 'root@bench.test', VIGIL_ADMIN_PASSWORD: 'bench admin password', VIGIL_LOGIN_MAX_FAILURES_PER_IP: '100000',
  };
  const instances: VigilProcess[] = [];
  const stop = async () => {
    await Promise.all(instances.map((v) => v.stop()));
    await redis.close();
    await db.drop();
  };
  try {
    instances.push(await startVigil(env));
    const a = instances[0];
    const shared = { ...env, ISSUER: a.issuer };
    instances.push(await startVigil(shared));
    const b = instances[1];
    const redirect = `${a.issuer}/bench-cb`;
    // One account per session, so that the admin API's session list names each session's account. Created in this process: a CLI process per account costs seconds.
    const core = await openCore(loadConfig(shared, ROOT), createLogger('warn', process.stderr as never));
    const accountIds = new Map<string, number>();
    try {
      await inParallel([...Array(REVOCATIONS).keys()], 8, async (i) => {
        const out = await COMMANDS['user create'](core, ['--email', `u${i}@bench.test`, '--password', PASSWORD]);
        accountIds.set((out.data as { id: string }).id, i);
      });
    } finally {
      await core.close();
    }
    const web = await vigilCli<ClientOut>(shared, ['client', 'create', '--name', 'bench web', '--redirect-uri', redirect]);
    await vigilCli(shared, ['client', 'create', '--name', 'bench api', '--resource-server', '--resource', API, '--scope', 'read', '--token-format', 'opaque']);
    const introspector = await vigilCli<ClientOut>(shared, ['client', 'create', '--name', 'bench introspector', '--grant-type', 'client_credentials', '--introspect-any']);
    const operator = await vigilCli<ClientOut>(shared, ['client', 'create', '--name', 'bench operator', '--grant-type', 'client_credentials',
      '--allow-resource', `${a.issuer}/admin/api`, '--scope', 'admin']);

    // One session per sign-in (a new browser each): its uid (from the admin API) and its access token.
    const config = await oidc.discovery(new URL(a.issuer), web.client_id, web.client_secret, undefined, { execute: [oidc.allowInsecureRequests] });
    const started = Date.now();
    const accessTokens: string[] = [];
    await inParallel([...Array(REVOCATIONS).keys()], 6, async (_, i) => {
      const verifier = oidc.randomPKCECodeVerifier();
      const url = oidc.buildAuthorizationUrl(config, {
        redirect_uri: redirect, scope: 'openid offline_access read', resource: API, prompt: 'consent',
        code_challenge: await oidc.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256',
      });
      const callback = await signIn(new Browser(), url.toString(), `u${i}@bench.test`, PASSWORD, redirect);
      const tokens = await oidc.authorizationCodeGrant(config, new URL(callback), { pkceCodeVerifier: verifier });
      accessTokens[i] = tokens.access_token;
    });
    console.log(`signed in ${REVOCATIONS} sessions in ${Date.now() - started} ms`);

    const adminToken = async () => {
      const res = await fetch(`${a.url}/token`, {
        method: 'POST',
        headers: { authorization: basic(operator), 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ grant_type: 'client_credentials', scope: 'admin', resource: `${a.issuer}/admin/api` }),
      });
      if (!res.ok) throw new Error(`admin token: ${res.status} ${await res.text()}`);
      return (await res.json() as { access_token: string }).access_token;
    };
    const token = await adminToken();
    const admin = async (method: string, path: string, body?: unknown) => {
      const res = await fetch(`${a.url}/admin/api${path}`, {
        method, headers: { authorization: `Bearer ${token}`, ...(body ? { 'content-type': 'application/json' } : {}) }, ...(body ? { body: JSON.stringify(body) } : {}),
      });
      if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${await res.text()}`);
      return res.json() as Promise<{ items: { uid: string; accountId: string }[]; next?: string }>;
    };
    const sessions: { uid: string; accessToken: string }[] = [];
    let cursor: string | undefined;
    do {
      const page = await admin('GET', `/sessions?limit=200${cursor ? `&cursor=${cursor}` : ''}`);
      for (const s of page.items) {
        const i = accountIds.get(s.accountId);
        if (i !== undefined) sessions.push({ uid: s.uid, accessToken: accessTokens[i] });
      }
      cursor = page.next;
    } while (cursor);
    if (sessions.length !== REVOCATIONS) throw new Error(`the admin API listed ${sessions.length} of ${REVOCATIONS} sessions`);

    const introspect = async (accessToken: string) => {
      const res = await fetch(`${b.url}/token/introspection`, {
        method: 'POST',
        headers: { authorization: basic(introspector), 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ token: accessToken }),
      });
      return res.json() as Promise<{ active: boolean; sid?: string; sub?: string }>;
    };

    // A listener on the bus, as another instance has: when did the event arrive?
    const listenerRedis = await connectRedis(redis.url, 'bench-listener');
    const bus = await openRevocationBus({ redis: listenerRedis } as unknown as Stores, a.issuer, createLogger('silent'));
    const heard = new Map<string, number>();
    bus.subscribe((e: RevocationEvent) => heard.set(e.target, performance.now()));

    // One at a time (an operator's pace is far slower): from the revoke call on A, poll B until the token is inactive.
    const inactiveMs: number[] = [];
    const busMs: number[] = [];
    const revokeMs: number[] = [];
    let neverInactive = 0;
    for (const { uid, accessToken } of sessions) {
      if (!(await introspect(accessToken)).active) throw new Error(`session ${uid}: its token is inactive before the revocation`);
      const t0 = performance.now();
      const revoked = admin('POST', `/sessions/${uid}/revoke`, { reason: 'bench' }).then(() => { revokeMs.push(performance.now() - t0); });
      let inactiveAt: number | undefined;
      while (inactiveAt === undefined && performance.now() - t0 < 5000) {
        if (!(await introspect(accessToken)).active) inactiveAt = performance.now();
      }
      await revoked;
      if (inactiveAt === undefined) neverInactive += 1;
      else inactiveMs.push(inactiveAt - t0);
      // The event may still be on its way: give it a moment before reading when it arrived.
      for (let waited = 0; !heard.has(uid) && waited < 1000; waited += 5) await new Promise((r) => setTimeout(r, 5));
      const busAt = heard.get(uid);
      if (busAt !== undefined) busMs.push(busAt - t0);
    }
    if (neverInactive) throw new Error(`${neverInactive} revoked session(s) were still active on B after 5 s`);
    await bus.close();
    listenerRedis.disconnect();

    const result = {
      revocations: sessions.length,
      revokeCallMs: summary(revokeMs),
      inactiveOnOtherInstanceMs: summary(inactiveMs),
      busEventMs: summary(busMs),
      aimP99Ms: P99_AIM_MS,
    };
    console.table({ 'revoke call (A)': result.revokeCallMs, 'active:false on B': result.inactiveOnOtherInstanceMs, 'bus event heard': result.busEventMs });
    console.log(result.inactiveOnOtherInstanceMs.p99 < P99_AIM_MS ? `p99 ${result.inactiveOnOtherInstanceMs.p99} ms: within the aim (< ${P99_AIM_MS} ms)` : `p99 ${result.inactiveOnOtherInstanceMs.p99} ms: OUTSIDE the aim (< ${P99_AIM_MS} ms)`);
    const dir = join(ROOT, 'bench', 'results');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'revocation.json'), `${JSON.stringify({ at: new Date().toISOString(), ...result }, null, 2)}\n`);
  } finally {
    await stop();
  }
}

await main();
