/**
 * Redis dies (SIGKILL) under refresh and sign-in traffic and comes back empty. While it is gone,
 * requests fail fast with 503 and Retry-After and /readyz says so; a refresh that did not hand
 * out its tokens leaves the refresh token usable, so the client's retry is a refresh, not a
 * replay; afterwards every grant still refreshes, people sign in again and the audit chain
 * verifies. The Redis is the test's own (a redis-server on a free port), never the shared one.
 */
import { startRedisServer, type FaultServer } from '../support/fault-servers.ts';
import { expectRecovered, outageUnderTraffic, prepareApp, type OutageApp } from '../support/outage-traffic.ts';
import { startStack, type Stack } from '../support/stack.ts';
import { vigilCli } from '../support/vigil-process.ts';
import { clientCredentialsToken, jsonCall } from '../support/json-api.ts';
import type { ClientOut } from '../support/stack.ts';

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
  // An administrator's tool (admin API), with a token taken before the outage.
  const adminApi = `${app.issuer}/admin/api`;
  const siem = await vigilCli<ClientOut>(stack!.env, ['client', 'create', '--name', 'SIEM', '--grant-type', 'client_credentials', '--allow-resource', adminApi, '--scope', 'admin:read']);
  const adminToken = await clientCredentialsToken(app.issuer, siem, adminApi, 'admin:read');

  const outage = await outageUnderTraffic(app, redis!, 'redis', async () => {
    const admin = await jsonCall(adminApi, 'GET', '/overview', adminToken);
    expect(admin.status).toBe(503);
    expect(admin.headers.get('retry-after')).toMatch(/^\d+$/);
    expect(admin.body).toMatchObject({ error: 'temporarily_unavailable' });
  });
  await expectRecovered(stack!, app, outage);
}, 120_000);
