import * as oidc from 'openid-client';
import { runScript, vigilCli } from '../support/vigil-process.ts';
import { queryDatabase } from '../support/services.ts';
import { enrolTotp } from '../support/totp.ts';
import { ADMIN, discover, type ClientOut } from '../support/stack.ts';
import { ACR_2FA, PASSWORD, startAdminApiStack, type AdminApiStack } from '../support/admin-api-stack.ts';

/**
 * The admin API over real HTTP against a real Vigil on Postgres + Redis: who may call it (two-factor
 * administrators, auditors read only, service clients by scope), what it shows (sessions with
 * filters and cursor pages), what it does (revoke, disable, rotate), that it refuses bad input and
 * cross-origin requests with JSON 4xx, and that every change is in an intact audit chain.
 */

let stack: AdminApiStack;
let plain: ClientOut;
let introspector: ClientOut;
const ids: Record<string, string> = {};
const tokens: Record<string, string> = {};

async function clientToken(client: ClientOut, scope: string, resource = stack.adminApi): Promise<string> {
  return (await oidc.clientCredentialsGrant(await discover(stack.vigil.issuer, client), { resource, scope })).access_token;
}

interface Answer { status: number; headers: Headers; body: any }

async function api(method: string, path: string, token?: string, body?: unknown, headers: Record<string, string> = {}): Promise<Answer> {
  const res = await fetch(`${stack.adminApi}${path}`, {
    method,
    headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...headers },
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await res.text();
  let parsed: unknown;
  try {
    parsed = text ? JSON.parse(text) : undefined;
  } catch {
    throw new Error(`${method} ${path}: not JSON (${res.status}): ${text.slice(0, 300)}`);
  }
  return { status: res.status, headers: res.headers, body: parsed };
}

async function introspect(token: string) {
  return oidc.tokenIntrospection(await discover(stack.vigil.issuer, introspector), token);
}

const get = (path: string, token = tokens.admin) => api('GET', path, token);
const post = (path: string, body: unknown = { reason: 'test' }, token = tokens.admin) => api('POST', path, token, body);

beforeAll(async () => {
  stack = await startAdminApiStack('Web App');
  Object.assign(ids, stack.ids);
  Object.assign(tokens, stack.tokens);
  for (const name of ['cy', 'dan', 'vic']) {
    ids[name] = (await stack.run<{ id: string }>('user create', ['--email', `${name}@vigil.test`, '--password', PASSWORD])).id;
  }
  plain = await stack.run<ClientOut>('client create', ['--name', 'Wiki', '--redirect-uri', stack.redirectUri]);
  introspector = await stack.run<ClientOut>('client create', ['--name', 'Introspector', '--grant-type', 'client_credentials', '--introspect-any']);
  tokens.adminOneFactor = (await stack.personTokens(ADMIN.email, ADMIN.password)).access_token;
}, 120_000);

afterAll(async () => {
  await stack?.stop();
});

test('an administrator signed in with two factors gets an opaque admin token that works', async () => {
  expect(tokens.admin.split('.')).toHaveLength(1);
  const res = await get('/overview');
  expect(res.status).toBe(200);
  expect(res.headers.get('cache-control')).toBe('no-store');
  expect(res.body).toMatchObject({ activeSessions: expect.any(Number), last24h: { decisions: expect.any(Object), revocations: expect.any(Number), logouts: { pending: expect.any(Number) } } });
});

test('sessions: filters, and a cursor walks every page once', async () => {
  for (let i = 0; i < 5; i++) await stack.personTokens('cy@vigil.test', PASSWORD, { scope: 'openid', resource: stack.devicesApi });
  // A sign-in's session activity and its assessment's session are written just after its answer
  // leaves: the list shows all five within moments, not necessarily at once.
  let all = await get(`/sessions?account=${ids.cy}`);
  for (let waited = 0; waited < 5_000 && (all.body.items?.length !== 5 || all.body.items.some((s: { risk: unknown }) => !s.risk)); waited += 100) {
    await new Promise((r) => setTimeout(r, 100));
    all = await get(`/sessions?account=${ids.cy}`);
  }
  expect(all.status).toBe(200);
  expect(all.body.items).toHaveLength(5);
  expect(all.body.next).toBeUndefined();
  expect(all.body.items[0]).toMatchObject({ accountId: ids.cy, email: 'cy@vigil.test', clients: [stack.adminTool.client_id], ip: expect.any(String), device: expect.any(String) });
  // The sign-in's risk assessment belongs to the session it opened.
  expect(all.body.items[0].risk).toMatchObject({ score: expect.any(Number), level: expect.stringMatching(/^(low|medium|high)$/), decision: expect.any(String) });
  const seen: string[] = [];
  let cursor: string | undefined;
  let pages = 0;
  do {
    const page = await get(`/sessions?account=${ids.cy}&limit=2${cursor ? `&cursor=${cursor}` : ''}`);
    expect(page.status).toBe(200);
    expect(page.body.items.length).toBeLessThanOrEqual(2);
    seen.push(...page.body.items.map((s: { uid: string }) => s.uid));
    cursor = page.body.next;
    pages++;
  } while (cursor);
  expect(pages).toBe(3);
  expect(new Set(seen).size).toBe(5);
  expect(seen.sort()).toEqual(all.body.items.map((s: { uid: string }) => s.uid).sort());
  expect((await get(`/sessions?account=${ids.cy}&client=${stack.adminTool.client_id}`)).body.items).toHaveLength(5);
  expect((await get(`/sessions?account=${ids.cy}&client=someone-else`)).body.items).toHaveLength(0);
  expect((await get(`/sessions?account=${ids.cy}&since=2999-01-01T00:00:00Z`)).body.items).toHaveLength(0);
  expect((await get(`/sessions?account=${ids.cy}&country=NZ`)).body.items).toHaveLength(0);
  expect((await get(`/sessions?account=${ids.cy}&risk=high`)).body.items).toHaveLength(0);
  const detail = await get(`/sessions/${seen[0]}`);
  expect(detail.status).toBe(200);
  expect(detail.body).toMatchObject({ uid: seen[0], accountId: ids.cy, riskHistory: expect.any(Array) });
});

test('a filter no index serves (country) looks at a bounded number of sessions per batch: a short page, and its cursor walks on', async () => {
  const { id } = await stack.run<{ id: string }>('user create', ['--email', 'roamer@vigil.test', '--password', PASSWORD]);
  await stack.personTokens('roamer@vigil.test', PASSWORD, { scope: 'openid', resource: stack.devicesApi });
  let mine = await get(`/sessions?account=${id}`);
  for (let waited = 0; waited < 5_000 && (mine.body.items?.length !== 1 || !mine.body.items[0].risk); waited += 100) {
    await new Promise((r) => setTimeout(r, 100));
    mine = await get(`/sessions?account=${id}`);
  }
  const uid: string = mine.body.items[0].uid;
  await queryDatabase(stack.db.url, `UPDATE risk_assessments SET place = '{"country":"NZ","city":"Wellington"}' WHERE session_uid = $1`, [uid]);
  // 25,000 sessions seen after it, none from New Zealand: more than one page's batches look at (10 × 2,000).
  await queryDatabase(stack.db.url, `INSERT INTO session_activity (session_uid, account_id, last_seen_at)
    SELECT 'elsewhere' || i, $1, now() + i * interval '1 millisecond' FROM generate_series(1, 25000) i`, [id]);
  try {
    const first = await get(`/sessions?account=${id}&country=NZ`);
    expect(first.status).toBe(200);
    expect({ items: first.body.items, next: typeof first.body.next }).toEqual({ items: [], next: 'string' });
    const second = await get(`/sessions?account=${id}&country=NZ&cursor=${first.body.next}`);
    expect(second.status).toBe(200);
    expect({ uids: second.body.items.map((s: { uid: string }) => s.uid), next: second.body.next }).toEqual({ uids: [uid], next: undefined });
    expect((await get(`/sessions?account=${id}&country=FR`)).body.items).toEqual([]);
  } finally {
    await queryDatabase(stack.db.url, `DELETE FROM session_activity WHERE account_id = $1 AND session_uid LIKE 'elsewhere%'`, [id]);
  }
});

test('revoking a session: its refresh token is refused and its access token is inactive', async () => {
  const victim = await stack.personTokens('vic@vigil.test', PASSWORD, { scope: 'openid offline_access', resource: stack.devicesApi });
  expect(victim.refresh_token).toBeDefined();
  expect((await introspect(victim.access_token)).active).toBe(true);
  const [session] = (await get(`/sessions?account=${ids.vic}`)).body.items;
  const res = await post(`/sessions/${session.uid}/revoke`, { reason: 'stolen laptop' });
  expect(res.status).toBe(200);
  expect(res.body).toMatchObject({ kind: 'session', target: session.uid, accountId: ids.vic, reason: 'stolen laptop' });
  expect((await introspect(victim.access_token)).active).toBe(false);
  const refresh = oidc.refreshTokenGrant(await discover(stack.vigil.issuer, stack.adminTool), victim.refresh_token!, { resource: stack.devicesApi });
  await expect(refresh).rejects.toMatchObject({ error: 'invalid_grant' });
  expect((await get(`/sessions?account=${ids.vic}`)).body.items).toHaveLength(0);
  expect((await get(`/sessions/${session.uid}`)).status).toBe(404);
});

test('an auditor reads everything and is refused every change', async () => {
  for (const path of ['/overview', '/sessions', '/accounts', `/accounts/${ids.cy}`, '/clients', `/clients/${stack.adminTool.client_id}`, '/audit', '/risk-events', '/logouts']) {
    expect([path, (await get(path, tokens.auditor)).status]).toEqual([path, 200]);
  }
  const writes: Array<[string, unknown]> = [
    [`/accounts/${ids.cy}/disable`, { reason: 'x' }], [`/accounts/${ids.cy}/enable`, { reason: 'x' }], [`/accounts/${ids.cy}/step-up`, { reason: 'x' }],
    [`/accounts/${ids.cy}/factors/reset`, { reason: 'x' }], [`/accounts/${ids.cy}/sessions/revoke`, { reason: 'x' }],
    [`/clients/${stack.adminTool.client_id}/disable`, { reason: 'x' }], [`/clients/${stack.adminTool.client_id}/tokens/revoke`, { reason: 'x' }], [`/clients/${stack.adminTool.client_id}/secret/rotate`, {}],
  ];
  for (const [path, body] of writes) {
    const res = await post(path, body, tokens.auditor);
    expect([path, res.status, res.body.error]).toEqual([path, 403, 'forbidden']);
  }
  expect((await get(`/accounts/${ids.cy}`)).body.disabled).toBe(false);
});

test('a person without an admin role gets 403 from every endpoint, and nothing else', async () => {
  for (const path of ['/overview', '/sessions', `/sessions/x`, '/accounts', `/accounts/${ids.cy}`, '/clients', '/audit', '/risk-events', '/logouts']) {
    const res = await get(path, tokens.normal);
    expect([path, res.status, res.body.error]).toEqual([path, 403, 'insufficient_scope']);
  }
  const res = await post(`/accounts/${ids.cy}/disable`, { reason: 'x' }, tokens.normal);
  expect(res.status).toBe(403);
  expect(Object.keys(res.body).sort()).toEqual(['error', 'error_description']);
});

test('an app not registered as an admin tool cannot get an administrator\'s admin API token, even with consent', async () => {
  const refused = await stack.personTokens(ADMIN.email, ADMIN.password, { totp: stack.rootApp, acr: ACR_2FA, client: plain }).catch((e: { error?: string; error_description?: string }) => e);
  expect(refused).toMatchObject({ error: 'invalid_target', error_description: expect.stringMatching(/not registered as an admin tool/) });
});

test('an administrator signed in with one factor: 401 insufficient_user_authentication (RFC 9470)', async () => {
  const res = await get('/sessions', tokens.adminOneFactor);
  expect(res.status).toBe(401);
  expect(res.body.error).toBe('insufficient_user_authentication');
  expect(res.headers.get('www-authenticate')).toMatch(/^Bearer realm=".*", error="insufficient_user_authentication", error_description=".+", acr_values="urn:vigil:acr:2fa"$/);
});

test('no token, a bad token, or a token for another API: 401', async () => {
  const none = await get('/sessions', '');
  expect(none.status).toBe(401);
  expect(none.headers.get('www-authenticate')).toBe(`Bearer realm="${stack.adminApi}"`);
  expect((await get('/sessions', 'not-a-token')).body.error).toBe('invalid_token');
  const devices = await stack.personTokens('cy@vigil.test', PASSWORD, { scope: 'openid devices', resource: stack.devicesApi });
  expect((await get('/sessions', devices.access_token)).status).toBe(401);
});

test('service clients: scope admin works, admin:read cannot write; administration is never granted by default', async () => {
  const ops = await vigilCli<ClientOut>(stack.env, ['client', 'create', '--name', 'Ops bot', '--grant-type', 'client_credentials', '--allow-resource', stack.adminApi, '--scope', 'admin']);
  const reader = await vigilCli<ClientOut>(stack.env, ['client', 'create', '--name', 'SIEM', '--grant-type', 'client_credentials', '--allow-resource', stack.adminApi, '--scope', 'admin:read']);
  const opsToken = await clientToken(ops, 'admin');
  expect((await get('/sessions', opsToken)).status).toBe(200);
  const stepUp = await post(`/accounts/${ids.cy}/step-up`, { reason: 'suspicious', acr: ACR_2FA }, opsToken);
  expect(stepUp.status).toBe(200);
  expect(stepUp.body).toEqual({ acr: ACR_2FA, since: expect.any(String), grants: 6, sessions: 6 });
  expect((await get(`/accounts/${ids.cy}`)).body.stepUpRequired[0]).toMatchObject({ acr: ACR_2FA, reason: 'suspicious' });
  const readToken = await clientToken(reader, 'admin:read');
  expect((await get('/audit', readToken)).status).toBe(200);
  expect((await post(`/accounts/${ids.cy}/disable`, { reason: 'x' }, readToken)).status).toBe(403);
  // Asking for more than it was allowed gives no token (invalid_scope), not a token without it.
  await expect(clientToken(reader, 'admin')).rejects.toMatchObject({ error: 'invalid_scope' });
  const missingScope = await runScript('src/cli.ts', ['client', 'create', '--name', 'Sloppy', '--grant-type', 'client_credentials', '--allow-resource', stack.adminApi], stack.env);
  expect(missingScope.code).not.toBe(0);
  expect(missingScope.stderr).toMatch(/--scope admin/);
});

test('bad input: JSON 4xx, never a 500', async () => {
  const cases: Array<[string, number]> = [
    ['/sessions?limit=500', 400], ['/sessions?limit=0', 400], ['/sessions?limit=abc', 400], ['/sessions?risk=extreme', 400],
    ['/sessions?since=yesterday', 400], ['/sessions?country=USA', 400], ['/sessions?cursor=garbage!', 400], ['/sessions?cursor=WzFd', 400],
    ['/sessions?colour=red', 400], ['/sessions?account=a&account=b', 400], ['/audit?action=DROP%20TABLE', 400], ['/logouts?status=lost', 400],
    ['/no-such-endpoint', 404], ['/sessions/unknown-session', 404], ['/accounts/no-such-account', 404], ['/clients/no-such-client', 404], [`/accounts/${'x'.repeat(300)}`, 404],
  ];
  for (const [path, status] of cases) {
    const res = await get(path);
    expect([path, res.status, typeof res.body.error]).toEqual([path, status, 'string']);
  }
  const writes: Array<[string, unknown, number]> = [
    ['/accounts/no-such-account/disable', { reason: 'x' }, 404], ['/clients/no-such-client/disable', { reason: 'x' }, 404],
    ['/sessions/unknown-session/revoke', { reason: 'x' }, 404], [`/accounts/${ids.cy}/disable`, {}, 400], [`/accounts/${ids.cy}/disable`, { reason: '' }, 400],
    [`/accounts/${ids.cy}/disable`, '{not json', 400], [`/accounts/${ids.cy}/disable`, { reason: 'x', extra: 1 }, 400],
    [`/accounts/${ids.cy}/step-up`, { reason: 'x', acr: 'urn:nope' }, 400], [`/accounts/${ids.cy}/disable`, { reason: 'x'.repeat(10_000) }, 413],
  ];
  for (const [path, body, status] of writes) {
    const res = await post(path, body);
    expect([path, res.status, typeof res.body.error]).toEqual([path, status, 'string']);
  }
  expect((await get(`/accounts/${ids.cy}`)).body.disabled).toBe(false);
});

test('cross-origin requests and form posts are refused', async () => {
  const foreign = await api('GET', '/sessions', tokens.admin, undefined, { origin: 'https://evil.example' });
  expect([foreign.status, foreign.body.error]).toEqual([403, 'forbidden']);
  const foreignPost = await api('POST', `/accounts/${ids.cy}/disable`, tokens.admin, { reason: 'x' }, { origin: 'https://evil.example' });
  expect(foreignPost.status).toBe(403);
  const own = await api('GET', '/sessions', tokens.admin, undefined, { origin: new URL(stack.vigil.issuer).origin });
  expect(own.status).toBe(200);
  const form = await fetch(`${stack.adminApi}/accounts/${ids.cy}/disable`, {
    method: 'POST', headers: { authorization: `Bearer ${tokens.admin}`, 'content-type': 'application/x-www-form-urlencoded' }, body: 'reason=x',
  });
  expect(form.status).toBe(415);
  expect((await get(`/accounts/${ids.cy}`)).body.disabled).toBe(false);
});

test('disabling an account ends its sessions; enabling lets it sign in again', async () => {
  await stack.personTokens('dan@vigil.test', PASSWORD, { scope: 'openid', resource: stack.devicesApi });
  expect((await get(`/sessions?account=${ids.dan}`)).body.items).toHaveLength(1);
  const res = await post(`/accounts/${ids.dan}/disable`, { reason: 'left the company' });
  expect(res.status).toBe(200);
  expect(res.body).toMatchObject({ id: ids.dan, disabled: true });
  expect((await get(`/sessions?account=${ids.dan}`)).body.items).toHaveLength(0);
  expect((await post(`/accounts/${ids.root}/disable`, { reason: 'oops' })).status).toBe(409);
  expect((await post(`/accounts/${ids.dan}/enable`, { reason: 'came back' })).body.disabled).toBe(false);
  const detail = await get(`/accounts/${ids.dan}`);
  expect(detail.body).toMatchObject({ id: ids.dan, disabled: false, sessions: [], factors: { totp: false, passkeys: [], recoveryCodesLeft: 0 } });
});

test('resetting second factors removes them and ends the sessions', async () => {
  await enrolTotp(stack.core, ids.cy);
  await stack.core.recovery.issue(ids.cy);
  expect((await get(`/accounts/${ids.cy}`)).body.factors).toMatchObject({ totp: true, recoveryCodesLeft: 10 });
  const res = await post(`/accounts/${ids.cy}/factors/reset`, { reason: 'lost phone' });
  expect(res.status).toBe(200);
  const detail = (await get(`/accounts/${ids.cy}`)).body;
  expect(detail.factors).toEqual({ totp: false, passkeys: [], recoveryCodesLeft: 0 });
  expect(detail.sessions).toHaveLength(0);
});

test('a disabled client gets no tokens and its tokens are inactive', async () => {
  const doomed = await stack.run<ClientOut>('client create', ['--name', 'Doomed', '--grant-type', 'client_credentials', '--allow-resource', stack.devicesApi]);
  const token = await clientToken(doomed, 'devices:manage', stack.devicesApi);
  expect((await introspect(token)).active).toBe(true);
  const res = await post(`/clients/${doomed.client_id}/disable`, { reason: 'compromised' });
  expect(res.status).toBe(200);
  expect(res.body).toMatchObject({ clientId: doomed.client_id, name: 'Doomed', disabled: true });
  expect((await introspect(token)).active).toBe(false);
  await expect(clientToken(doomed, 'devices:manage', stack.devicesApi)).rejects.toMatchObject({ error: 'invalid_client' });
  expect((await get(`/clients/${doomed.client_id}`)).body.disabled).toBe(true);
  expect((await post(`/clients/${doomed.client_id}/enable`, { reason: 'cleaned up' })).body.disabled).toBe(false);
  expect(await clientToken(doomed, 'devices:manage', stack.devicesApi)).toEqual(expect.any(String));
  const list = await get('/clients?limit=200');
  expect(list.body.items.map((c: { clientId: string }) => c.clientId)).toEqual(expect.arrayContaining([doomed.client_id, stack.adminTool.client_id, 'vigil-account']));
  expect((await post('/clients/vigil-account/disable', { reason: 'x' })).status).toBe(409);
});

test('rotating a client secret: the old one is refused, the new one works', async () => {
  const rotor = await stack.run<ClientOut>('client create', ['--name', 'Rotor', '--grant-type', 'client_credentials', '--allow-resource', stack.devicesApi]);
  const res = await post(`/clients/${rotor.client_id}/secret/rotate`, {});
  expect(res.status).toBe(200);
  expect(res.body.clientId).toBe(rotor.client_id);
  expect(res.body.clientSecret).toMatch(/^[A-Za-z0-9_-]{43}$/);
  await expect(clientToken(rotor, 'devices:manage', stack.devicesApi)).rejects.toMatchObject({ error: 'invalid_client' });
  expect(await clientToken({ client_id: rotor.client_id, client_secret: res.body.clientSecret }, 'devices:manage', stack.devicesApi)).toEqual(expect.any(String));
  expect(stack.vigil.output()).not.toContain(res.body.clientSecret);
});

test('every change is in the audit trail, refusals too, and the chain is intact', async () => {
  const entries: Array<{ action: string; outcome: string; actor: string; ip: string | null }> = [];
  let cursor: string | undefined;
  do {
    const page = await get(`/audit?action=admin.&limit=50${cursor ? `&cursor=${cursor}` : ''}`);
    expect(page.status).toBe(200);
    entries.push(...page.body.items);
    cursor = page.body.next;
  } while (cursor);
  expect(entries.every((e) => e.action.startsWith('admin.'))).toBe(true);
  const has = (action: string, outcome: string, actor = ids.root) => entries.some((e) => e.action === action && e.outcome === outcome && e.actor === actor);
  expect(has('admin.session.revoke', 'success')).toBe(true);
  expect(has('admin.account.disable', 'success')).toBe(true);
  expect(has('admin.account.disable', 'denied', ids.audra)).toBe(true);
  expect(has('admin.account.disable', 'failure')).toBe(true);
  expect(has('admin.account.factors.reset', 'success')).toBe(true);
  expect(has('admin.client.disable', 'success')).toBe(true);
  expect(has('admin.client.secret.rotate', 'success')).toBe(true);
  expect(entries.some((e) => e.action === 'admin.account.step_up' && e.outcome === 'success' && e.actor !== ids.root)).toBe(true);
  expect(entries.every((e) => e.ip)).toBe(true);
  // Every call, reads and refusals included: who, what, from where, the result.
  const calls = entries.filter((e) => e.action === 'admin.api.call') as Array<typeof entries[0] & { subject: string; details: { method: string; status: number } }>;
  expect(calls.some((e) => e.actor === ids.audra && e.subject === '/admin/api/sessions' && e.outcome === 'success' && e.details.method === 'GET')).toBe(true);
  expect(calls.some((e) => e.actor === ids.norm && e.outcome === 'denied' && e.details.status === 403)).toBe(true);
  expect(calls.some((e) => e.actor === 'unauthenticated' && e.outcome === 'denied' && e.details.status === 401)).toBe(true);
  const revocations = await get('/audit?action=revocation.session');
  expect(revocations.body.items[0]).toMatchObject({ actor: ids.root, details: { initiator: 'admin', reason: 'stolen laptop' } });
  const verified = await vigilCli<{ ok: boolean; entries: number }>(stack.env, ['audit', 'verify']);
  expect(verified.ok).toBe(true);
  for (const t of Object.values(tokens)) expect(stack.vigil.output()).not.toContain(t);
});
