import { freePort, vigilCli } from '../support/vigil-process.ts';
import { Browser, signIn } from '../support/browserless.ts';
import { clientCredentialsToken, jsonCall } from '../support/json-api.ts';
import { discover, pkceAuthorization, type ClientOut } from '../support/stack.ts';
import { PASSWORD, startAdminApiStack, type AdminApiStack } from '../support/admin-api-stack.ts';

/**
 * Managing accounts and clients through the admin API over real HTTP (issue 18): create and edit
 * accounts, create and edit clients with everything `vigil client create` can set, rotate a
 * secret, make registration tokens. Administrators only; bad input is a clear 4xx that stores
 * nothing (checked in the database); every change is audited without its secrets.
 */

let stack: AdminApiStack;
const ids: Record<string, string> = {};
const tokens: Record<string, string> = {};
/** Every secret and password handed out here: none may reach the logs or the audit trail. */
const secrets: string[] = [];

const call = (method: string, path: string, body?: unknown, token = tokens.admin) => jsonCall(stack.adminApi, method, path, token, body);

/** The rows that creating or editing may touch, to show that a refusal stored nothing. */
async function snapshot() {
  const { rows } = await stack.core.stores.sql.query<{ n: string; what: string }>(
    `SELECT 'accounts' AS what, md5(string_agg(id || email || display_name || array_to_string(roles, ',') || coalesce(password_hash, '-'), '|' ORDER BY id)) AS n FROM accounts
     UNION ALL SELECT 'clients', md5(string_agg(id || payload::text, '|' ORDER BY id)) FROM oidc_payloads WHERE model = 'Client'
     UNION ALL SELECT 'resources', md5(string_agg(identifier || client_id || array_to_string(scopes, ','), '|' ORDER BY identifier)) FROM resource_servers
     UNION ALL SELECT 'registration tokens', count(*)::text FROM oidc_payloads WHERE model = 'InitialAccessToken'`,
  );
  return Object.fromEntries(rows.map((r) => [r.what, r.n]));
}

beforeAll(async () => {
  stack = await startAdminApiStack('Admin tool');
  Object.assign(ids, stack.ids);
  Object.assign(tokens, stack.tokens);
  const reader = await stack.run<ClientOut>('client create', ['--name', 'SIEM', '--grant-type', 'client_credentials', '--allow-resource', stack.adminApi, '--scope', 'admin:read']);
  tokens.reader = await clientCredentialsToken(stack.vigil.issuer, reader, stack.adminApi, 'admin:read');
}, 120_000);

afterAll(async () => {
  await stack?.stop();
});

test('an administrator creates an account that signs in at once; one without a password cannot sign in with one', async () => {
  const created = await call('POST', '/accounts', { email: 'Grace@vigil.test', name: 'Grace Hopper', roles: ['engineer'], password: PASSWORD });
  expect(created.status).toBe(201);
  expect(created.body).toEqual({ id: expect.any(String), email: 'Grace@vigil.test', name: 'Grace Hopper', roles: ['engineer'], disabled: false, emailVerified: false, createdAt: expect.any(String) });
  ids.grace = created.body.id;
  const signedIn = await stack.personTokens('grace@vigil.test', PASSWORD, { scope: 'openid', resource: stack.devicesApi });
  expect(signedIn.claims()!.sub).toBe(ids.grace);

  const bare = await call('POST', '/accounts', { email: 'hal@vigil.test' });
  expect(bare.status).toBe(201);
  expect(bare.body).toMatchObject({ email: 'hal@vigil.test', name: '', roles: [] });
  expect(JSON.stringify(bare.body)).not.toMatch(/password/i);
  const { rows } = await stack.core.stores.sql.query<{ password_hash: string | null }>('SELECT password_hash FROM accounts WHERE id = $1', [bare.body.id]);
  expect(rows[0].password_hash).toBeNull();
  await expect(stack.personTokens('hal@vigil.test', 'any password at all 123', { scope: 'openid', resource: stack.devicesApi })).rejects.toThrow(/did not reach the client/);
});

test('bad accounts: a clear 400 or 409, and nothing stored', async () => {
  const before = await snapshot();
  const cases: Array<[unknown, number, RegExp]> = [
    [{ email: 'GRACE@vigil.test', password: PASSWORD }, 409, /already exists/],
    [{ email: 'not an email' }, 400, /email/],
    [{ email: 'ivy@vigil.test', roles: ['Admin!'] }, 400, /roles? .*lower-case/],
    [{ email: 'ivy@vigil.test', password: 'short' }, 400, /password/],
    [{ email: 'ivy@vigil.test', colour: 'red' }, 400, /colour/],
    [{ name: 'No email' }, 400, /email/],
    [{ email: 'ivy@vigil.test', roles: 'admin' }, 400, /roles/],
  ];
  for (const [body, status, message] of cases) {
    const res = await call('POST', '/accounts', body);
    expect([body, res.status, res.body.error]).toEqual([body, status, status === 409 ? 'conflict' : 'invalid_request']);
    expect(res.body.error_description).toMatch(message);
  }
  expect(await snapshot()).toEqual(before);
});

test('editing an account: email, name and roles; a taken email is 409 and changes nothing; the change is audited with what changed', async () => {
  const edited = await call('PATCH', `/accounts/${ids.grace}`, { name: 'Rear Admiral Hopper', roles: ['engineer', 'oncall'], reason: 'promotion' });
  expect(edited.status).toBe(200);
  expect(edited.body).toMatchObject({ id: ids.grace, email: 'Grace@vigil.test', name: 'Rear Admiral Hopper', roles: ['engineer', 'oncall'] });
  const moved = await call('PATCH', `/accounts/${ids.grace}`, { email: 'grace.hopper@vigil.test' });
  expect(moved.body.email).toBe('grace.hopper@vigil.test');
  // The new email signs in (the password is unchanged); the old one no longer does.
  expect((await stack.personTokens('grace.hopper@vigil.test', PASSWORD, { scope: 'openid', resource: stack.devicesApi })).claims()!.sub).toBe(ids.grace);

  const before = await snapshot();
  const refused: Array<[string, unknown, number]> = [
    [`/accounts/${ids.grace}`, { email: 'NORM@vigil.test', name: 'Should not change' }, 409],
    [`/accounts/${ids.grace}`, { email: 'nope', name: 'Should not change' }, 400],
    [`/accounts/${ids.grace}`, { name: 'Should not change', roles: ['BAD ROLE'] }, 400],
    [`/accounts/${ids.grace}`, {}, 400],
    [`/accounts/${ids.grace}`, { password: 'x' }, 400],
    [`/accounts/${ids.root}`, { roles: [] }, 409],
    ['/accounts/no-such-account', { name: 'x' }, 404],
  ];
  for (const [path, body, status] of refused) {
    const res = await call('PATCH', path, body);
    expect([path, body, res.status]).toEqual([path, body, status]);
    expect(res.body.error_description).toEqual(expect.any(String));
  }
  expect(await snapshot()).toEqual(before);

  const trail = await call('GET', `/audit?action=admin.account.update&subject=${ids.grace}`);
  const success = trail.body.items.filter((e: { outcome: string }) => e.outcome === 'success');
  expect(success.map((e: { details: unknown }) => e.details)).toEqual(expect.arrayContaining([
    expect.objectContaining({ reason: 'promotion', changed: { name: { from: 'Grace Hopper', to: 'Rear Admiral Hopper' }, roles: { from: ['engineer'], to: ['engineer', 'oncall'] } } }),
    expect.objectContaining({ changed: { email: { from: 'Grace@vigil.test', to: 'grace.hopper@vigil.test' } } }),
  ]));
  expect(trail.body.items.some((e: { outcome: string; details: { error?: string } }) => e.outcome === 'failure' && e.details.error === 'conflict')).toBe(true);
});

test('an administrator creates a confidential client that signs a person in at once', async () => {
  const port = await freePort();
  const callback = `http://127.0.0.1:${port}/callback`;
  const created = await call('POST', '/clients', { name: 'Payroll', redirectUris: [callback], postLogoutRedirectUris: [`http://127.0.0.1:${port}/bye`], defaultAcr: 'urn:vigil:acr:1fa', reason: 'new app' });
  expect(created.status).toBe(201);
  expect(created.body).toMatchObject({
    clientId: expect.any(String), name: 'Payroll', grantTypes: ['authorization_code', 'refresh_token'], disabled: false, firstParty: false,
    clientSecret: expect.stringMatching(/^[A-Za-z0-9_-]{43}$/),
    settings: { name: 'Payroll', redirectUris: [callback], public: false, applicationType: 'web', defaultAcr: 'urn:vigil:acr:1fa' },
  });
  secrets.push(created.body.clientSecret);
  const payroll = { client_id: created.body.clientId, client_secret: created.body.clientSecret };
  const signedIn = await stack.personTokens('norm@vigil.test', PASSWORD, { client: payroll, redirect: callback, scope: 'openid', resource: stack.devicesApi });
  expect(signedIn.claims()).toMatchObject({ sub: ids.norm, aud: payroll.client_id });
  // The secret is shown once: reading the client never shows it.
  const read = await call('GET', `/clients/${payroll.client_id}`);
  expect(read.body.settings).toEqual(created.body.settings);
  expect(JSON.stringify(read.body)).not.toContain(created.body.clientSecret);

  // Edited: the new redirect URI works at once, the old is refused, the secret stays.
  const moved = `http://127.0.0.1:${port}/new-callback`;
  const edited = await call('PATCH', `/clients/${payroll.client_id}`, { name: 'Payroll 2', redirectUris: [moved] });
  expect(edited.status).toBe(200);
  expect(edited.body).toMatchObject({ name: 'Payroll 2', settings: { redirectUris: [moved], defaultAcr: 'urn:vigil:acr:1fa' } });
  expect(edited.body.clientSecret).toBeUndefined();
  expect((await stack.personTokens('norm@vigil.test', PASSWORD, { client: payroll, redirect: moved, scope: 'openid', resource: stack.devicesApi })).claims()!.sub).toBe(ids.norm);
  await expect(stack.personTokens('norm@vigil.test', PASSWORD, { client: payroll, redirect: callback, scope: 'openid', resource: stack.devicesApi })).rejects.toThrow();

  // A rotated secret works, the old one does not.
  const rotated = await call('POST', `/clients/${payroll.client_id}/secret/rotate`, {});
  expect(rotated.status).toBe(200);
  secrets.push(rotated.body.clientSecret);
  const config = await discover(stack.vigil.issuer, { client_id: payroll.client_id, client_secret: rotated.body.clientSecret });
  const request = await pkceAuthorization(config, { redirect_uri: moved, scope: 'openid', resource: stack.devicesApi });
  const tokensWithNew = await request.redeem(await signIn(new Browser(), request.url, 'norm@vigil.test', PASSWORD, moved), { resource: stack.devicesApi });
  expect(tokensWithNew.claims()!.sub).toBe(ids.norm);
  await expect(stack.personTokens('norm@vigil.test', PASSWORD, { client: payroll, redirect: moved, scope: 'openid', resource: stack.devicesApi })).rejects.toMatchObject({ error: 'invalid_client' });
});

test('public clients, resource servers and client_credentials clients, as `client create` makes them', async () => {
  const spa = await call('POST', '/clients', { name: 'SPA', public: true, redirectUris: [stack.redirectUri] });
  expect(spa.status).toBe(201);
  expect(spa.body.clientSecret).toBeUndefined();
  expect(spa.body.settings).toMatchObject({ public: true });
  expect((await stack.personTokens('norm@vigil.test', PASSWORD, { client: { client_id: spa.body.clientId }, scope: 'openid', resource: stack.devicesApi })).claims()!.sub).toBe(ids.norm);

  const api = await call('POST', '/clients', { name: 'Ledger API', resourceServer: { resource: 'https://ledger.vigil.test', scopes: ['ledger:read', 'ledger:write'], tokenFormat: 'opaque', accessTokenTtl: 600 } });
  expect(api.status).toBe(201);
  expect(api.body.settings.resourceServer).toEqual({ resource: 'https://ledger.vigil.test', scopes: ['ledger:read', 'ledger:write'], tokenFormat: 'opaque', accessTokenTtl: 600 });
  secrets.push(api.body.clientSecret);

  const batch = await call('POST', '/clients', { name: 'Batch', grantTypes: ['client_credentials'], allowedResources: ['https://ledger.vigil.test'], allowedScopes: ['ledger:read'] });
  expect(batch.status).toBe(201);
  secrets.push(batch.body.clientSecret);
  const machine = { client_id: batch.body.clientId, client_secret: batch.body.clientSecret };
  const token = await clientCredentialsToken(stack.vigil.issuer, machine, 'https://ledger.vigil.test', 'ledger:read');
  expect(token.split('.')).toHaveLength(1);
  await expect(clientCredentialsToken(stack.vigil.issuer, machine, 'https://ledger.vigil.test', 'ledger:write')).rejects.toThrow(/invalid_scope/);
  // Allowed more by an edit, it gets more at once.
  const widened = await call('PATCH', `/clients/${batch.body.clientId}`, { allowedScopes: ['ledger:read', 'ledger:write'] });
  expect(widened.status).toBe(200);
  expect(await clientCredentialsToken(stack.vigil.issuer, machine, 'https://ledger.vigil.test', 'ledger:write')).toEqual(expect.any(String));
});

test('malformed client metadata: a clear 400, and nothing stored', async () => {
  const [ledger] = (await call('GET', '/clients?limit=200')).body.items.filter((c: { name: string }) => c.name === 'Ledger API');
  const before = await snapshot();
  const cases: Array<[string, string, unknown, RegExp]> = [
    ['POST', '/clients', { name: 'Evil', redirectUris: ['http://evil.example/cb'] }, /https/],
    ['POST', '/clients', { name: 'Evil', redirectUris: ['not a uri'] }, /redirect_uris/],
    ['POST', '/clients', { name: 'Evil', grantTypes: ['password'], redirectUris: [stack.redirectUri] }, /grantTypes password is not one of/],
    ['POST', '/clients', { name: 'Evil', grantTypes: ['authorization_code'] }, /redirectUris is required/],
    ['POST', '/clients', { name: 'Evil', public: true, grantTypes: ['client_credentials'] }, /client_credentials/],
    ['POST', '/clients', { name: 'Evil', grantTypes: ['client_credentials'], allowedResources: ['https://nowhere.vigil.test'] }, /not a registered resource server/],
    ['POST', '/clients', { name: 'Evil', grantTypes: ['client_credentials'], allowedResources: [stack.adminApi] }, /admin or admin:read must be named/],
    ['POST', '/clients', { name: 'Evil', grantTypes: ['client_credentials'], allowedResources: ['https://ledger.vigil.test'], allowedScopes: ['ledger:delete'] }, /not a scope/],
    ['POST', '/clients', { name: 'Evil', resourceServer: { resource: 'https://ledger.vigil.test' } }, /already registered/],
    ['POST', '/clients', { name: 'Evil', resourceServer: { resource: 'not a uri#x' } }, /resource must be/],
    ['POST', '/clients', { name: 'Evil', resourceServer: { accessTokenTtl: 5 } }, /accessTokenTtl/],
    ['POST', '/clients', { name: 'Evil', defaultAcr: 'urn:nope' }, /defaultAcr/],
    ['POST', '/clients', { name: 'Evil', redirectUris: [stack.redirectUri], client_secret: 'mine' }, /client_secret/],
    ['POST', '/clients', { redirectUris: [stack.redirectUri] }, /name/],
    ['PATCH', `/clients/${ledger.clientId}`, { resourceServer: { resource: 'https://other.vigil.test', scopes: [] } }, /cannot be changed/],
    ['PATCH', `/clients/${ledger.clientId}`, { redirectUris: ['http://evil.example/cb'], grantTypes: ['authorization_code'] }, /https/],
    ['PATCH', `/clients/${ledger.clientId}`, {}, /at least one setting/],
  ];
  for (const [method, path, body, message] of cases) {
    const res = await call(method, path, body);
    expect([body, res.status, res.body.error]).toEqual([body, 400, 'invalid_request']);
    expect([body, res.body.error_description]).toEqual([body, expect.stringMatching(message)]);
  }
  expect((await call('PATCH', '/clients/no-such-client', { name: 'x' })).status).toBe(404);
  expect((await call('PATCH', '/clients/vigil-account', { name: 'x' })).status).toBe(409);
  expect(await snapshot()).toEqual(before);
});

test('registration tokens: shown once, they register a client; bad lifetimes refused', async () => {
  const made = await call('POST', '/registration-tokens', { expiresIn: 600, reason: 'partner onboarding' });
  expect(made.status).toBe(201);
  expect(made.body).toEqual({ initialAccessToken: expect.any(String), expiresAt: expect.any(String) });
  secrets.push(made.body.initialAccessToken);
  const left = (Date.parse(made.body.expiresAt) - Date.now()) / 1000;
  expect(left).toBeGreaterThan(590);
  expect(left).toBeLessThanOrEqual(600);
  const res = await fetch(`${stack.vigil.issuer}/reg`, {
    method: 'POST', headers: { authorization: `Bearer ${made.body.initialAccessToken}`, 'content-type': 'application/json' },
    body: JSON.stringify({ client_name: 'Partner', redirect_uris: ['https://partner.vigil.test/cb'] }),
  });
  expect(res.status).toBe(201);
  const before = await snapshot();
  for (const body of [{ expiresIn: 0 }, { expiresIn: 'soon' }, { expiresIn: 10 ** 9 }, { ttl: 60 }]) {
    const refused = await call('POST', '/registration-tokens', body);
    expect([body, refused.status, refused.body.error]).toEqual([body, 400, 'invalid_request']);
  }
  expect(await snapshot()).toEqual(before);
});

test('auditors, read-only clients and people without an admin role are refused every change, and nothing is stored', async () => {
  const [ledger] = (await call('GET', '/clients?limit=200')).body.items.filter((c: { name: string }) => c.name === 'Ledger API');
  const before = await snapshot();
  const writes: Array<[string, string, unknown]> = [
    ['POST', '/accounts', { email: 'mallory@vigil.test', roles: ['admin'], password: PASSWORD }],
    ['PATCH', `/accounts/${ids.audra}`, { roles: ['admin'] }],
    ['POST', '/clients', { name: 'Backdoor', grantTypes: ['client_credentials'], allowedResources: [stack.adminApi], allowedScopes: ['admin'] }],
    ['PATCH', `/clients/${ledger.clientId}`, { name: 'Mine now' }],
    ['POST', `/clients/${ledger.clientId}/secret/rotate`, {}],
    ['POST', '/registration-tokens', {}],
  ];
  for (const [who, error] of [['auditor', 'forbidden'], ['reader', 'forbidden'], ['normal', 'insufficient_scope']] as const) {
    for (const [method, path, body] of writes) {
      const res = await call(method, path, body, tokens[who]);
      expect([who, method, path, res.status, res.body.error]).toEqual([who, method, path, 403, error]);
    }
  }
  // The auditor still reads what an edit starts from.
  expect((await call('GET', `/clients/${ledger.clientId}`, undefined, tokens.auditor)).body.settings.resourceServer.resource).toBe('https://ledger.vigil.test');
  expect(await snapshot()).toEqual(before);
  const denied = await call('GET', '/audit?action=admin.account.create');
  expect(denied.body.items.some((e: { actor: string; outcome: string }) => e.actor === ids.audra && e.outcome === 'denied')).toBe(true);
});

test('every change is audited with what it set, never a secret or a password; the chain is intact', async () => {
  const { rows } = await stack.core.stores.sql.query<{ action: string; subject: string; outcome: string; details: Record<string, unknown> }>(
    "SELECT action, subject, outcome, details FROM audit_log WHERE action LIKE 'admin.%' ORDER BY seq",
  );
  const success = (action: string) => rows.filter((r) => r.action === action && r.outcome === 'success');
  expect(success('admin.account.create')[0]).toMatchObject({ subject: ids.grace, details: { email: 'Grace@vigil.test', roles: ['engineer'], password: 'set', id: ids.grace } });
  expect(success('admin.account.create')[1].details).toMatchObject({ email: 'hal@vigil.test', password: 'none' });
  expect(success('admin.client.create').find((r) => r.details.reason === 'new app')).toMatchObject({ details: { settings: { name: 'Payroll', redirectUris: [expect.any(String)] } } });
  expect(success('admin.client.update').length).toBeGreaterThanOrEqual(2);
  expect(success('admin.client.secret.rotate')).toHaveLength(1);
  expect(success('admin.registration_token.create')[0]).toMatchObject({ details: { reason: 'partner onboarding', expiresIn: 600 } });
  const trail = JSON.stringify(rows);
  for (const secret of secrets) {
    expect(trail).not.toContain(secret);
    expect(stack.vigil.output()).not.toContain(secret);
  }
  const verified = await vigilCli<{ ok: boolean }>(stack.env, ['audit', 'verify']);
  expect(verified.ok).toBe(true);
});
