import pg from 'pg';
import * as oidc from 'openid-client';
import { createRemoteJWKSet, decodeProtectedHeader, jwtVerify } from 'jose';
import { freshDatabase } from '../support/services.ts';
import { freePort, newMasterKey, runScript, startVigil, vigilCli, type VigilProcess } from '../support/vigil-process.ts';
import { Browser, formAction, hiddenField, signIn } from '../support/browserless.ts';
import { discover, pkceAuthorization } from '../support/stack.ts';

/**
 * Every CLI command with --json against a fresh Postgres (no Redis), next to a running server
 * that sees what the CLI did: accounts, clients, registration tokens, key rotation, audit.
 */

const PASSWORD = 'correct horse battery staple 9';
const API = 'https://api.cli.vigil.test';

interface ClientOut { client_id: string; client_secret?: string; token_endpoint_auth_method?: string; resource?: string; scopes?: string[]; token_format?: string; vigil_introspection?: boolean }
interface KeyOut { kid: string; alg: string; state: 'pending' | 'signing' | 'retired'; signsFrom: string; retiredAt?: string; unpublishAt?: string }

let db: Awaited<ReturnType<typeof freshDatabase>>;
let env: Record<string, string>;
let vigil: VigilProcess;
let redirectUri: string;
let web: ClientOut;
let machine: ClientOut;

const cli = (args: string[]) => runScript('src/cli.ts', args, env);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const jwksKids = async () => ((await (await fetch(`${vigil.url}/jwks`)).json()) as { keys: Array<{ kid: string }> }).keys.map((k) => k.kid);

const authorization = (config: oidc.Configuration) => pkceAuthorization(config, { redirect_uri: redirectUri, scope: 'openid email offline_access', prompt: 'consent' });

async function login(email: string) {
  const config = await discover(vigil.issuer, web);
  const request = await authorization(config);
  const callback = await signIn(new Browser(), request.url, email, PASSWORD, redirectUri);
  return { config, tokens: await request.redeem(callback) };
}

async function sql(text: string) {
  const client = new pg.Client({ connectionString: db.url });
  await client.connect();
  try {
    return await client.query(text);
  } finally {
    await client.end();
  }
}

beforeAll(async () => {
  db = await freshDatabase();
  redirectUri = `http://127.0.0.1:${await freePort()}/cb`;
  env = {
    DATABASE_URL: db.url,
    VIGIL_MASTER_KEY: newMasterKey(),
    VIGIL_ADMIN_EMAIL: 'root@vigil.test',
    VIGIL_ADMIN_PASSWORD: 'an admin password 123',
    VIGIL_KEY_REFRESH_SECONDS: '1',
    VIGIL_KEY_PUBLISH_SECONDS: '2',
  };
}, 30_000);

afterAll(async () => {
  await vigil?.stop();
  await db?.drop();
});

// Each CLI run costs about a second of CPU (it loads everything the server does): runs are kept
// few, and independent ones go in parallel.

test('migrate applies the migrations once, then reports up to date', async () => {
  const first = await vigilCli<{ applied: string[]; current: string }>(env, ['migrate']);
  expect(first.applied[0]).toBe('001_initial');
  expect(first.applied).toEqual([...first.applied].sort());
  expect(first.current).toBe(first.applied.at(-1));
  const text = await cli(['migrate']);
  expect(text.code).toBe(0);
  expect(text.stdout.trim()).toBe(`up to date (${first.current})`);
  // The server starts on the migrated database.
  vigil = await startVigil(env);
});

test('user create, list, disable', async () => {
  const [ada, bob, carol] = await Promise.all([
    vigilCli<{ id: string; email: string; name: string; roles: string[]; password?: string }>(env,
      ['user', 'create', '--email', 'ada@vigil.test', '--password', PASSWORD, '--name', 'Ada', '--role', 'engineer', '--role', 'oncall']),
    vigilCli<{ id: string }>(env, ['user', 'create', '--email', 'bob@vigil.test', '--password', PASSWORD]),
    // Without --password one is generated and shown once.
    vigilCli<{ password?: string }>(env, ['user', 'create', '--email', 'carol@vigil.test']),
  ]);
  expect(ada).toMatchObject({ email: 'ada@vigil.test', name: 'Ada', roles: ['engineer', 'oncall'] });
  expect(ada.password).toBeUndefined();
  expect(carol.password).toMatch(/^[A-Za-z0-9_-]{20,}$/);

  const [duplicate, disabled, nobody] = await Promise.all([
    cli(['user', 'create', '--email', 'ADA@vigil.test', '--password', PASSWORD, '--json']),
    vigilCli<{ id: string; disabled: boolean }>(env, ['user', 'disable', '--email', 'Carol@vigil.test']),
    cli(['user', 'disable', '--email', 'nobody@vigil.test', '--json']),
  ]);
  expect(duplicate.code).toBe(1);
  expect(duplicate.stderr).toMatch(/already exists/);
  expect(duplicate.stdout).toBe('');
  expect(disabled.disabled).toBe(true);
  expect(nobody.code).toBe(2);
  expect(nobody.stderr).toMatch(/no account with email nobody@vigil.test/);

  const list = await vigilCli<Array<{ id: string; email: string; roles: string[]; disabled: boolean; createdAt: string }>>(env, ['user', 'list']);
  expect(list.map((u) => u.email).sort()).toEqual(['ada@vigil.test', 'bob@vigil.test', 'carol@vigil.test', 'root@vigil.test']);
  expect(list.find((u) => u.email === 'bob@vigil.test')).toMatchObject({ id: bob.id, roles: [], disabled: false });
  expect(list.find((u) => u.email === 'carol@vigil.test')!.disabled).toBe(true);
  expect(list.find((u) => u.email === 'root@vigil.test')!.roles).toEqual(['admin']);
  expect(JSON.stringify(list)).not.toMatch(/password|argon/i);
});

test('client create: confidential, public, resource server, client_credentials; bad redirect URIs refused', async () => {
  let spa: ClientOut;
  let api: ClientOut;
  let plainHttp: Awaited<ReturnType<typeof cli>>;
  let notAUri: Awaited<ReturnType<typeof cli>>;
  [web, spa, api, plainHttp, notAUri] = await Promise.all([
    vigilCli<ClientOut>(env, ['client', 'create', '--name', 'Web App', '--redirect-uri', redirectUri]),
    vigilCli<ClientOut>(env, ['client', 'create', '--name', 'SPA', '--public', '--redirect-uri', redirectUri]),
    vigilCli<ClientOut>(env, ['client', 'create', '--name', 'Things API', '--resource-server', '--resource', API, '--scope', 'read:things']),
    cli(['client', 'create', '--name', 'Evil', '--redirect-uri', 'http://evil.example/cb', '--json']),
    cli(['client', 'create', '--name', 'Evil', '--redirect-uri', 'not a uri', '--json']),
  ]);
  expect(web.client_secret).toMatch(/^[A-Za-z0-9_-]{40,}$/);
  expect(web.token_endpoint_auth_method).toBe('client_secret_basic');
  expect(spa.client_secret).toBeUndefined();
  expect(spa.token_endpoint_auth_method).toBe('none');
  expect(api).toMatchObject({ resource: API, scopes: ['read:things'], token_format: 'jwt' });

  expect(plainHttp.code).not.toBe(0);
  expect(plainHttp.stderr).toMatch(/invalid client: .*http:\/\/evil\.example\/cb.*https/);
  expect(plainHttp.stdout).toBe('');
  expect(notAUri.code).not.toBe(0);
  expect(notAUri.stderr).toMatch(/^vigil: invalid client: .*redirect_uris/m);

  // A client_credentials client may be allowed a resource once that resource server exists.
  const [again, created] = await Promise.all([
    cli(['client', 'create', '--name', 'Things API 2', '--resource-server', '--resource', API, '--json']),
    vigilCli<ClientOut>(env, ['client', 'create', '--name', 'Batch', '--grant-type', 'client_credentials', '--allow-resource', API]),
  ]);
  machine = created;
  expect(again.code).toBe(2);
  expect(again.stderr).toMatch(/already registered/);
  const cc = await oidc.clientCredentialsGrant(await discover(vigil.issuer, machine), { resource: API, scope: 'read:things' });
  expect(decodeProtectedHeader(cc.access_token).typ).toBe('at+jwt');
});

test('a disabled user cannot sign in, and refresh tokens issued before are refused', async () => {
  const { config, tokens } = await login('bob@vigil.test');
  expect(tokens.refresh_token).toBeTruthy();
  const { refresh_token: current } = await oidc.refreshTokenGrant(config, tokens.refresh_token!);
  expect(current).toBeTruthy();

  await vigilCli(env, ['user', 'disable', '--email', 'bob@vigil.test']);
  await expect(oidc.refreshTokenGrant(config, current!)).rejects.toMatchObject({ error: 'invalid_grant' });

  // The login page says so (after the right password), and signIn never reaches the client.
  const browser = new Browser();
  const { url } = await authorization(config);
  const loginPage = await browser.follow(url);
  const answer = await browser.submit(loginPage, formAction(loginPage.body, '/login'), { csrf: hiddenField(loginPage.body, 'csrf'), email: 'bob@vigil.test', password: PASSWORD });
  expect(answer.status).toBe(403);
  expect(answer.body).toContain('This account is disabled');
  await expect(signIn(new Browser(), url, 'bob@vigil.test', PASSWORD, redirectUri)).rejects.toThrow(/did not reach the client/);
  // A wrong password on a disabled account says nothing about the account.
  const wrong = await browser.submit(answer, formAction(answer.body, '/login'), { csrf: hiddenField(answer.body, 'csrf'), email: 'bob@vigil.test', password: 'not the password at all' });
  expect(wrong.status).toBe(401);
  expect(wrong.body).not.toContain('disabled');

  // Other people are unaffected.
  expect((await login('ada@vigil.test')).tokens.access_token).toBeTruthy();
});

test('registration-token create gives an initial access token for dynamic registration', async () => {
  const created = await vigilCli<{ initial_access_token: string; expires_at: string }>(env, ['registration-token', 'create', '--expires-in', '600']);
  const expiresIn = (Date.parse(created.expires_at) - Date.now()) / 1000;
  expect(expiresIn).toBeGreaterThan(590);
  expect(expiresIn).toBeLessThanOrEqual(600);
  const res = await fetch(`${vigil.url}/reg`, {
    method: 'POST',
    headers: { authorization: `Bearer ${created.initial_access_token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ client_name: 'Registered', redirect_uris: ['https://rp.vigil.test/cb'] }),
  });
  expect(res.status).toBe(201);
  expect((await res.json()).client_id).toBeTruthy();
});

test('keys rotate: new keys are published at once, sign after VIGIL_KEY_PUBLISH_SECONDS; the old stay published', async () => {
  const before = await vigilCli<KeyOut[]>(env, ['keys', 'list']);
  expect(before).toHaveLength(2);
  expect(before.every((k) => k.state === 'signing')).toBe(true);
  expect(before.map((k) => k.alg).sort()).toEqual(['ES256', 'RS256']);
  const oldRs = before.find((k) => k.alg === 'RS256')!.kid;
  expect((await jwksKids()).sort()).toEqual(before.map((k) => k.kid).sort());

  const rotated = await vigilCli<{ new: string[]; keys: KeyOut[] }>(env, ['keys', 'rotate']);
  const rotatedAt = Date.now();
  expect(rotated.new).toHaveLength(2);
  expect(rotated.keys).toHaveLength(4);
  for (const kid of rotated.new) expect(rotated.keys.find((k) => k.kid === kid)!.state).toBe('pending');
  const newRs = rotated.keys.find((k) => rotated.new.includes(k.kid) && k.alg === 'RS256')!.kid;
  expect(rotated.keys.filter((k) => k.state === 'pending').map((k) => k.kid).sort()).toEqual([...rotated.new].sort());
  expect(rotated.keys.find((k) => k.kid === oldRs)).toMatchObject({ state: 'signing', retiredAt: expect.any(String), unpublishAt: expect.any(String) });

  // The running server publishes the new keys within VIGIL_KEY_REFRESH_SECONDS …
  let kids = await jwksKids();
  while (!rotated.new.every((k) => kids.includes(k)) && Date.now() - rotatedAt < 2000) {
    await sleep(50);
    kids = await jwksKids();
  }
  expect(kids).toEqual(expect.arrayContaining([...rotated.new, ...before.map((k) => k.kid)]));
  expect(Date.now() - rotatedAt).toBeLessThan(2000);
  // … while still signing with the old ones.
  const cc = await oidc.clientCredentialsGrant(await discover(vigil.issuer, machine), { resource: API, scope: 'read:things' });
  expect(Date.now() - rotatedAt).toBeLessThan(2000);
  expect(decodeProtectedHeader(cc.access_token).kid).toBe(oldRs);

  // After VIGIL_KEY_PUBLISH_SECONDS (+ one refresh), new ID tokens carry the new RS256 kid.
  await sleep(Math.max(0, rotatedAt + 3300 - Date.now()));
  const { tokens } = await login('ada@vigil.test');
  expect(decodeProtectedHeader(tokens.id_token!).kid).toBe(newRs);
  const jwks = createRemoteJWKSet(new URL(`${vigil.url}/jwks`));
  await expect(jwtVerify(tokens.id_token!, jwks, { issuer: vigil.issuer, audience: web.client_id })).resolves.toBeTruthy();
  // The old key stays published (tokens it signed are still valid) but no longer signs.
  expect(await jwksKids()).toContain(oldRs);
  await expect(jwtVerify(cc.access_token, createRemoteJWKSet(new URL(`${vigil.url}/jwks`)), { issuer: vigil.issuer, audience: API })).resolves.toBeTruthy();
  const after = await vigilCli<KeyOut[]>(env, ['keys', 'list']);
  expect(after.find((k) => k.kid === newRs)!.state).toBe('signing');
  expect(after.find((k) => k.kid === oldRs)!.state).toBe('retired');
  expect(vigil.output()).toMatch(/signing keys changed; provider reloaded/);
});

test('bad arguments exit 2 with a message on stderr', async () => {
  const cases: Array<[string[], RegExp]> = [
    [['frobnicate'], /unknown command "frobnicate"/],
    [['user', 'list', '--bogus'], /--bogus/],
    [['user', 'create', '--password', PASSWORD], /--email is required/],
    [['registration-token', 'create', '--expires-in', 'abc'], /--expires-in must be a whole number/],
    [['keys', 'list', 'extra'], /extra/],
  ];
  const [bare, ...results] = await Promise.all([cli([]), ...cases.map(([args]) => cli([...args, '--json']))]);
  results.forEach((result, i) => {
    const [args, message] = cases[i];
    expect({ args, code: result.code }).toEqual({ args, code: 2 });
    expect(result.stderr).toMatch(message);
    expect(result.stderr).toMatch(/^vigil: /);
    expect(result.stderr).not.toMatch(/^ {4}at /m);
    expect(result.stdout).toBe('');
  });
  expect(bare.code).toBe(2);
  expect(bare.stdout).toMatch(/^usage: vigil/);
});

test('audit verify: intact; Vigil cannot change or delete an entry; an edit or a deletion made around it is reported', async () => {
  const intact = await vigilCli<{ ok: boolean; entries: number }>(env, ['audit', 'verify']);
  expect(intact).toEqual({ ok: true, entries: expect.any(Number) });
  expect(intact.entries).toBeGreaterThan(10);

  // The table refuses changes: only someone who owns the database and drops the guard can.
  await expect(sql("UPDATE audit_log SET actor='x' WHERE seq=2")).rejects.toThrow(/append-only/);
  await expect(sql('DELETE FROM audit_log WHERE seq=3')).rejects.toThrow(/append-only/);
  await expect(sql('TRUNCATE audit_log')).rejects.toThrow(/append-only/);
  const asOwner = async (statement: string) => {
    await sql('ALTER TABLE audit_log DISABLE TRIGGER USER');
    try {
      return await sql(statement);
    } finally {
      await sql('ALTER TABLE audit_log ENABLE TRIGGER USER');
    }
  };

  const [{ actor }] = (await sql('SELECT actor FROM audit_log WHERE seq=2')).rows as Array<{ actor: string }>;
  expect((await asOwner("UPDATE audit_log SET actor='x' WHERE seq=2")).rowCount).toBe(1);
  const [broken, brokenText] = await Promise.all([cli(['audit', 'verify', '--json']), cli(['audit', 'verify'])]);
  expect(broken.code).toBe(1);
  expect(JSON.parse(broken.stdout)).toMatchObject({ ok: false, brokenAt: '2' });
  expect(brokenText.code).toBe(1);
  expect(brokenText.stdout).toMatch(/BROKEN at entry 2/);

  await asOwner(`UPDATE audit_log SET actor='${actor}' WHERE seq=2`);
  expect((await vigilCli<{ ok: boolean }>(env, ['audit', 'verify'])).ok).toBe(true);
  // A deleted entry: the next one no longer links to the entry before it.
  expect((await asOwner('DELETE FROM audit_log WHERE seq=4')).rowCount).toBe(1);
  const deleted = await cli(['audit', 'verify', '--json']);
  expect(deleted.code).toBe(1);
  expect(JSON.parse(deleted.stdout)).toMatchObject({ ok: false, brokenAt: '5' });
});
