/**
 * Postgres dies (SIGKILL to the postmaster and its backends) under refresh and sign-in traffic,
 * and comes back after crash recovery. While it is gone, requests fail fast with 503 and
 * Retry-After and /readyz says so; no refresh token is consumed without its client getting the
 * new tokens; afterwards every grant still refreshes, people sign in again and the audit chain
 * verifies. The cluster is the test's own (initdb in a temporary folder, a free port), never the
 * shared server.
 */
import { startPostgresCluster, type FaultServer } from '../support/fault-servers.ts';
import { expectRecovered, outageUnderTraffic, prepareApp, type OutageApp } from '../support/outage-traffic.ts';
import { startStack, type Stack } from '../support/stack.ts';

let postgres: FaultServer | undefined;
let stack: Stack | undefined;
let app: OutageApp;

beforeAll(async () => {
  postgres = await startPostgresCluster();
  stack = await startStack({ DATABASE_URL: postgres.url });
  app = await prepareApp(stack);
}, 120_000);

afterAll(async () => {
  await stack?.stop();
  await postgres?.destroy();
}, 60_000);

test('Postgres killed and restarted under traffic: 503s while it is gone, no grant lost, the audit chain intact', async () => {
  const outage = await outageUnderTraffic(app, postgres!, 'postgres');
  await expectRecovered(stack!, app, outage);
}, 120_000);
