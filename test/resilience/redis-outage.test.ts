/**
 * Redis dies (SIGKILL) under refresh and sign-in traffic and comes back empty. While it is gone,
 * requests fail fast with 503 and Retry-After and /readyz says so; a refresh that did not hand
 * out its tokens leaves the refresh token usable, so the client's retry is a refresh, not a
 * replay; afterwards every grant still refreshes, people sign in again and the audit chain
 * verifies. The Redis is the test's own (a redis-server on a free port), never the shared one.
 */
import { startRedisServer, type FaultServer } from '../support/fault-servers.ts';
import { offlineGrant, prepareApp, readiness, readyAgain, refresh, startTraffic, type OutageApp } from '../support/outage-traffic.ts';
import { startStack, type Stack } from '../support/stack.ts';
import { vigilCli } from '../support/vigil-process.ts';
import { clientCredentialsToken, jsonCall } from '../support/json-api.ts';
import type { ClientOut } from '../support/stack.ts';

const GRANTS = 12;
const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

let redis: FaultServer | undefined;
let stack: Stack | undefined;
let app: OutageApp;

beforeAll(async () => {
  redis = await startRedisServer();
  stack = await startStack({ REDIS_URL: redis.url });
  app = await prepareApp(stack);
}, 120_000);

afterAll(async () => {
  await stack?.stop();
  await redis?.destroy();
}, 60_000);

test('Redis killed and restarted under traffic: 503s while it is gone, no grant lost, the audit chain intact', async () => {
  const tokens: string[] = [];
  for (let i = 0; i < GRANTS; i++) tokens.push(await offlineGrant(app));
  // A grant of its own for the probe below (the loops' tokens move on).
  const probe = await offlineGrant(app);
  // An administrator's tool (admin API), with a token taken before the outage.
  const adminApi = `${app.issuer}/admin/api`;
  const siem = await vigilCli<ClientOut>(stack!.env, ['client', 'create', '--name', 'SIEM', '--grant-type', 'client_credentials', '--allow-resource', adminApi, '--scope', 'admin:read']);
  const adminToken = await clientCredentialsToken(app.issuer, siem, adminApi, 'admin:read');

  const traffic = startTraffic(app, tokens);
  let killedAt: number;
  let restartedAt: number;
  try {
    await pause(1500);
    await redis!.kill();
    killedAt = Date.now();
    await pause(300);

    // Said at once, and every request fails fast, with a time to come back.
    const notReady = await readiness(app.issuer);
    expect(notReady.status).toBe(503);
    expect(notReady.body.checks.redis).toMatch(/^unavailable/);
    expect(notReady.ms).toBeLessThan(2500);
    const during = await refresh(app, probe);
    expect(during).toMatchObject({ status: 503, error: 'temporarily_unavailable', retryAfter: expect.stringMatching(/^\d+$/) });
    expect(during.ms).toBeLessThan(1500);
    const admin = await jsonCall(adminApi, 'GET', '/overview', adminToken);
    expect(admin.status).toBe(503);
    expect(admin.headers.get('retry-after')).toMatch(/^\d+$/);
    expect(admin.body).toMatchObject({ error: 'temporarily_unavailable' });

    await pause(3700);
    await redis!.start();
    restartedAt = Date.now();
    await readyAgain(app.issuer);
    await pause(2000);
  } finally {
    await traffic.stop();
  }
  const { refreshes: loops, logins } = await traffic.stop();

  const answers = loops.flatMap((l) => l.answers);
  // The outage was exercised: refreshes were answered while Redis was gone.
  expect(answers.filter((a) => a.at >= killedAt && a.at < restartedAt && a.status === 503).length).toBeGreaterThan(0);
  // Nothing but tokens or 503 temporarily_unavailable (with Retry-After), and never a hang.
  for (const a of answers) {
    if (a.status !== 200) expect(a).toMatchObject({ status: 503, error: 'temporarily_unavailable', retryAfter: expect.stringMatching(/^\d+$/) });
    expect(a.ms).toBeLessThan(2500);
  }
  expect(logins.statuses.filter((s) => s >= 500 && s !== 503)).toEqual([]);

  // No grant was taken for a replay: each one refreshes now, with the token its client holds.
  expect(loops.map((l) => l.lost)).toEqual(loops.map(() => false));
  for (const loop of loops) expect(await refresh(app, loop.token)).toMatchObject({ status: 200 });
  // The probe's refresh token, answered 503 during the outage, too.
  expect(await refresh(app, probe)).toMatchObject({ status: 200 });
  expect(stack!.vigil.output()).not.toContain('refresh token reuse detected');

  // People sign in again.
  expect(logins.completed.some((at) => at > restartedAt)).toBe(true);
  await expect(offlineGrant(app)).resolves.toEqual(expect.any(String));

  const audit = await vigilCli<{ ok: boolean; entries: number }>(stack!.env, ['audit', 'verify']);
  expect(audit.ok).toBe(true);
}, 120_000);
