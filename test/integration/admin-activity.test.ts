/**
 * The overview's activity counts (GET /admin/api/activity, the console's charts and cards) over
 * real HTTP against a real Vigil on Postgres + Redis: audit entries placed at known times on both
 * sides of each window's and bucket's edges are counted in the right hour or day, empty buckets
 * are zeros, only what each kind names is counted (a revocation only when it ended something),
 * the audit list's `kind` filter lists exactly what was counted, auditors may read, others not.
 */
import { PASSWORD, startAdminApiStack, type AdminApiStack } from '../support/admin-api-stack.ts';
import type { ClientOut } from '../support/stack.ts';

let stack: AdminApiStack;

interface Answer { status: number; body: any }

async function get(path: string, token = stack.tokens.admin): Promise<Answer> {
  const res = await fetch(`${stack.adminApi}${path}`, { headers: { authorization: `Bearer ${token}` } });
  return { status: res.status, body: await res.json() };
}

/** An audit entry at a chosen time, written as the trail's rows are (outside the hash chain: these are the test's own). */
async function entry(at: string, action: string, outcome: string, details: Record<string, unknown> = {}) {
  await stack.core.stores.sql.query(
    `INSERT INTO audit_log (at, actor, action, outcome, details, prev_hash, hash) VALUES ($1::timestamptz, 'seed', $2, $3, $4::jsonb, 'seed', 'seed')`,
    [at, action, outcome, JSON.stringify(details)],
  );
}

const series = (body: any, kind: string) => body.series.find((s: { kind: string }) => s.kind === kind);
const counts = (body: any, kind: string) => series(body, kind).buckets.map((b: { count: number }) => b.count);
/** 24 (or 7) zeros with the given buckets set. */
const expected = (length: number, set: Record<number, number>) => Array.from({ length }, (_, i) => set[i] ?? 0);

// The day window ending with the hour of UNTIL is 2026-01-14 11:00 to 2026-01-15 11:00; the week 2026-01-09 to 2026-01-16.
const UNTIL = '2026-01-15T10:30:00Z';

beforeAll(async () => {
  stack = await startAdminApiStack('Activity Tool');
  const seeds: [string, string, string, Record<string, unknown>?][] = [
    // Sign-ins on each side of the day window's first and last edges.
    ['2026-01-14T10:59:59.999Z', 'login', 'success'],
    ['2026-01-14T11:00:00Z', 'login', 'success'],
    ['2026-01-15T10:59:59Z', 'login', 'success'],
    ['2026-01-15T10:59:59.5Z', 'login', 'success'],
    ['2026-01-15T11:00:00Z', 'login', 'success'],
    // And the week's.
    ['2026-01-08T23:59:59.999Z', 'login', 'success'],
    ['2026-01-09T00:00:00Z', 'login', 'success'],
    ['2026-01-16T00:00:00Z', 'login', 'success'],
    // Not counted: a wrong password, an allowed refresh, a risk denial's own assessment (its login entry is the denial).
    ['2026-01-15T10:00:00Z', 'login', 'failure', { reason: 'bad_password' }],
    ['2026-01-15T09:10:00Z', 'risk.refresh', 'info', { decision: { action: 'allow' } }],
    ['2026-01-15T09:14:00Z', 'risk.login', 'denied', { decision: { action: 'deny' } }],
    // A denial and two challenges in the 09:00 hour.
    ['2026-01-15T09:15:00Z', 'login', 'denied', { reason: 'risk' }],
    ['2026-01-15T09:20:00Z', 'risk.login', 'info', { decision: { action: 'mfa', acr: 'urn:vigil:acr:2fa' } }],
    ['2026-01-15T09:25:00Z', 'risk.refresh', 'denied', { decision: { action: 'step_up', acr: 'urn:vigil:acr:2fa' } }],
    // Revocations at 08:xx: two ended something, three ended nothing.
    ['2026-01-15T08:00:00Z', 'revocation.session', 'success', { sessions: ['s1'], grants: ['g1'] }],
    ['2026-01-15T08:05:00Z', 'revocation.client', 'success', { sessions: [], grants: [], tokens: 3 }],
    ['2026-01-15T08:10:00Z', 'revocation.account', 'success', { sessions: [], grants: [] }],
    ['2026-01-15T08:15:00Z', 'revocation.client', 'success', { sessions: [], grants: [], tokens: 0 }],
    ['2026-01-15T08:20:00Z', 'revocation.grant', 'success', { sessions: [], grants: [] }],
  ];
  for (const [at, action, outcome, details] of seeds) await entry(at, action, outcome, details);
}, 120_000);

afterAll(async () => {
  await stack?.stop();
});

test('the day: 24 hourly buckets, zeros included, each entry in its hour, the window\'s edges kept', async () => {
  const res = await get(`/activity?window=day&until=${UNTIL}`);
  expect(res.status).toBe(200);
  expect(res.body).toMatchObject({ window: 'day', bucket: 'hour', from: '2026-01-14T11:00:00.000Z', to: '2026-01-15T11:00:00.000Z' });
  expect(res.body.series.map((s: { kind: string }) => s.kind)).toEqual(['sign_in', 'challenge', 'denial', 'revocation']);
  const starts = series(res.body, 'sign_in').buckets.map((b: { start: string }) => b.start);
  expect(starts).toHaveLength(24);
  expect(starts[0]).toBe('2026-01-14T11:00:00.000Z');
  expect(starts[23]).toBe('2026-01-15T10:00:00.000Z');
  expect(counts(res.body, 'sign_in')).toEqual(expected(24, { 0: 1, 23: 2 }));
  expect(counts(res.body, 'denial')).toEqual(expected(24, { 22: 1 }));
  expect(counts(res.body, 'challenge')).toEqual(expected(24, { 22: 2 }));
  expect(counts(res.body, 'revocation')).toEqual(expected(24, { 21: 2 }));
  expect(res.body.series.map((s: { total: number }) => s.total)).toEqual([3, 2, 1, 2]);
});

test('the week: 7 daily buckets from midnight UTC, the window\'s edges kept', async () => {
  const res = await get(`/activity?window=week&until=${UNTIL}`);
  expect(res.status).toBe(200);
  expect(res.body).toMatchObject({ window: 'week', bucket: 'day', from: '2026-01-09T00:00:00.000Z', to: '2026-01-16T00:00:00.000Z' });
  expect(series(res.body, 'sign_in').buckets.map((b: { start: string }) => b.start.slice(0, 10)))
    .toEqual(['2026-01-09', '2026-01-10', '2026-01-11', '2026-01-12', '2026-01-13', '2026-01-14', '2026-01-15']);
  expect(counts(res.body, 'sign_in')).toEqual([1, 0, 0, 0, 0, 2, 3]);
  expect(counts(res.body, 'challenge')).toEqual([0, 0, 0, 0, 0, 0, 2]);
  expect(counts(res.body, 'denial')).toEqual([0, 0, 0, 0, 0, 0, 1]);
  expect(counts(res.body, 'revocation')).toEqual([0, 0, 0, 0, 0, 0, 2]);
});

test('a window with nothing in it is all zeros', async () => {
  const res = await get('/activity?window=week&until=2025-06-01T00:00:00Z');
  expect(res.status).toBe(200);
  for (const s of res.body.series) expect([s.kind, s.total, s.buckets.map((b: { count: number }) => b.count)]).toEqual([s.kind, 0, [0, 0, 0, 0, 0, 0, 0]]);
});

test('the audit list filtered by kind and the window lists exactly what was counted', async () => {
  const from = '2026-01-14T11:00:00Z';
  const to = '2026-01-15T11:00:00Z';
  const listed = async (kind: string) => (await get(`/audit?kind=${kind}&from=${from}&to=${to}`)).body.items.map((e: { action: string; at: string }) => `${e.action} ${e.at}`);
  expect(await listed('revocation')).toEqual(['revocation.client 2026-01-15T08:05:00.000Z', 'revocation.session 2026-01-15T08:00:00.000Z']);
  expect(await listed('challenge')).toEqual(['risk.refresh 2026-01-15T09:25:00.000Z', 'risk.login 2026-01-15T09:20:00.000Z']);
  expect(await listed('denial')).toEqual(['login 2026-01-15T09:15:00.000Z']);
  expect(await listed('sign_in')).toHaveLength(3);
  const bad = await get('/audit?kind=logins');
  expect([bad.status, bad.body.error]).toEqual([400, 'invalid_request']);
  expect(bad.body.error_description).toMatch(/kind must be sign_in, challenge, denial, revocation/);
});

test('an auditor may read the activity; a person without an admin role may not; bad input is a 400 naming it', async () => {
  const auditor = await get(`/activity?window=day&until=${UNTIL}`, stack.tokens.auditor);
  expect(auditor.status).toBe(200);
  expect(series(auditor.body, 'sign_in').total).toBe(3);
  const normal = await get('/activity', stack.tokens.normal);
  expect([normal.status, normal.body.error]).toEqual([403, 'insufficient_scope']);
  const none = await fetch(`${stack.adminApi}/activity`);
  expect(none.status).toBe(401);
  for (const [query, message] of [['window=month', /window must be day or week/], ['until=yesterday', /until must be an ISO 8601 date-time/], ['window=day&extra=1', /extra/]] as const) {
    const res = await get(`/activity?${query}`);
    expect([query, res.status, res.body.error]).toEqual([query, 400, 'invalid_request']);
    expect(res.body.error_description).toMatch(message);
  }
  // Without a window, the day.
  expect((await get('/activity')).body).toMatchObject({ window: 'day', bucket: 'hour' });
});

test('a revocation counts when it ended something: a client\'s live tokens yes, a grant already gone or a client with nothing no', async () => {
  const week = async () => series((await get('/activity?window=week')).body, 'revocation').total as number;
  const before = await week();
  const cause = { initiator: 'admin' as const, actor: stack.ids.root, reason: 'test' };
  // Nothing to end: a grant that is not there, a client that holds nothing.
  const idle = await stack.run<ClientOut>('client create', ['--name', 'Idle', '--redirect-uri', stack.redirectUri]);
  await stack.core.revocations.grant('no-such-grant-0123456789', cause);
  await stack.core.revocations.client(idle.client_id, cause);
  expect(await week()).toBe(before);
  // A client whose person holds a grant and tokens: they end, and the revocation counts.
  const wiki = await stack.run<ClientOut>('client create', ['--name', 'Wiki', '--redirect-uri', stack.redirectUri]);
  const tokens = await stack.personTokens('norm@vigil.test', PASSWORD, { client: wiki, scope: 'openid offline_access', resource: stack.devicesApi });
  expect(tokens.refresh_token).toBeTruthy();
  await stack.core.revocations.client(wiki.client_id, cause);
  expect(await week()).toBe(before + 1);
  const [revoked] = (await get(`/audit?action=revocation.client&subject=${wiki.client_id}`)).body.items;
  expect(revoked.details.tokens).toBeGreaterThanOrEqual(2);
  const [idleEntry] = (await get(`/audit?action=revocation.client&subject=${idle.client_id}`)).body.items;
  expect(idleEntry.details.tokens).toBe(0);
});
