import { createServer, type Server } from 'node:http';
import * as oidc from 'openid-client';
import { Redis } from 'ioredis';
import { createRemoteJWKSet, jwtVerify, decodeProtectedHeader } from 'jose';
import { freePort, vigilCli, type VigilProcess } from '../support/vigil-process.ts';
import { Browser, signIn, hiddenField } from '../support/browserless.ts';
import { discover, insecure, pkceAuthorization, startStack, type ClientOut, type Stack } from '../support/stack.ts';

const PASSWORD = 'correct horse battery staple 9';
const API = 'https://api.vigil.test';
const OPAQUE_API = 'https://opaque.vigil.test';

let stack: Stack;
let vigil: VigilProcess;
let env: Record<string, string>;
let rp: Server;
let rpPort: number;
const backchannelTokens: string[] = [];
let web: ClientOut;
let publicClient: ClientOut;
let api: ClientOut;
let opaqueApi: ClientOut;
let machine: ClientOut;
let stranger: ClientOut;
let auditor: ClientOut;
let accountId: string;
const secretsUsed: string[] = [];

const rpConfig = (c: ClientOut) => discover(vigil.issuer, c);
const redirectUri = () => `http://127.0.0.1:${rpPort}/cb`;

async function loginWithCode(client: ClientOut, extra: Record<string, string> = {}, browser = new Browser()) {
  const config = await rpConfig(client);
  const request = await pkceAuthorization(config, { redirect_uri: redirectUri(), scope: 'openid email profile offline_access', prompt: 'consent', ...extra });
  const callback = await signIn(browser, request.url, 'ada@vigil.test', PASSWORD, redirectUri());
  const tokens = await request.redeem(callback, extra.resource ? { resource: extra.resource } : undefined);
  return { config, tokens, browser, callback };
}

beforeAll(async () => {
  rpPort = await freePort();
  rp = createServer((req, res) => {
    let body = '';
    req.on('data', (d) => { body += d; });
    req.on('end', () => {
      if (req.url === '/backchannel' && req.method === 'POST') backchannelTokens.push(new URLSearchParams(body).get('logout_token') ?? '');
      res.writeHead(200, { 'content-type': 'text/plain' }).end('ok');
    });
  });
  await new Promise<void>((resolve) => rp.listen(rpPort, '127.0.0.1', resolve));
  stack = await startStack({ VIGIL_ALLOWED_OUTGOING_HOSTS: `127.0.0.1:${rpPort}` });
  ({ vigil, env } = stack);
  secretsUsed.push(env.VIGIL_MASTER_KEY, env.VIGIL_ADMIN_PASSWORD, PASSWORD);
  const user = await vigilCli<{ id: string }>(env, ['user', 'create', '--email', 'ada@vigil.test', '--password', PASSWORD, '--name', 'Ada', '--role', 'engineer']);
  accountId = user.id;
  web = await vigilCli(env, ['client', 'create', '--name', 'Web App', '--redirect-uri', redirectUri(),
    '--post-logout-redirect-uri', `http://127.0.0.1:${rpPort}/bye`, '--backchannel-logout-uri', `http://127.0.0.1:${rpPort}/backchannel`]);
  publicClient = await vigilCli(env, ['client', 'create', '--name', 'SPA', '--public', '--redirect-uri', redirectUri()]);
  api = await vigilCli(env, ['client', 'create', '--name', 'Things API', '--resource-server', '--resource', API, '--scope', 'read:things']);
  opaqueApi = await vigilCli(env, ['client', 'create', '--name', 'Opaque API', '--resource-server', '--resource', OPAQUE_API, '--scope', 'read:opaque', '--token-format', 'opaque']);
  machine = await vigilCli(env, ['client', 'create', '--name', 'Batch job', '--grant-type', 'client_credentials', '--allow-resource', API, '--allow-resource', OPAQUE_API]);
  stranger = await vigilCli(env, ['client', 'create', '--name', 'Other job', '--grant-type', 'client_credentials']);
  auditor = await vigilCli(env, ['client', 'create', '--name', 'Token auditor', '--grant-type', 'client_credentials', '--introspect-any']);
  secretsUsed.push(web.client_secret!, api.client_secret!, opaqueApi.client_secret!, machine.client_secret!, stranger.client_secret!, auditor.client_secret!);
}, 120_000);

afterAll(async () => {
  await stack?.stop();
  await new Promise((resolve) => rp?.close(resolve));
});

test('discovery publishes the endpoints, acr values and PKCE method', async () => {
  const config = await rpConfig(web);
  const meta = config.serverMetadata();
  expect(meta.issuer).toBe(vigil.issuer);
  expect(meta.code_challenge_methods_supported).toEqual(['S256']);
  expect(meta.acr_values_supported).toEqual(['urn:vigil:acr:1fa', 'urn:vigil:acr:2fa', 'urn:vigil:acr:phr']);
  expect(meta.grant_types_supported).toEqual(expect.arrayContaining(['authorization_code', 'refresh_token', 'client_credentials']));
  expect(meta.introspection_endpoint).toBe(`${vigil.issuer}/token/introspection`);
  expect(meta.revocation_endpoint).toBe(`${vigil.issuer}/token/revocation`);
  expect(meta.registration_endpoint).toBe(`${vigil.issuer}/reg`);
  expect(meta.end_session_endpoint).toBe(`${vigil.issuer}/session/end`);
  expect(meta.backchannel_logout_supported).toBe(true);
  const jwks = await (await fetch(`${vigil.issuer}/jwks`)).json() as { keys: Array<{ kid: string; alg: string; d?: string }> };
  expect(jwks.keys.map((k) => k.alg).sort()).toEqual(['ES256', 'RS256']);
  expect(new Set(jwks.keys.map((k) => k.kid)).size).toBe(jwks.keys.length);
  expect(jwks.keys.every((k) => k.d === undefined)).toBe(true);
});

test('authorization code + PKCE through the login and consent pages gives verified tokens with roles, acr, amr, auth_time', async () => {
  const { tokens } = await loginWithCode(web);
  const claims = tokens.claims()!;
  expect(claims.sub).toBe(accountId);
  expect(claims.roles).toEqual(['engineer']);
  expect(claims.acr).toBe('urn:vigil:acr:1fa');
  expect(claims.amr).toEqual(['pwd']);
  expect(typeof claims.auth_time).toBe('number');
  expect(claims.email).toBe('ada@vigil.test');
  expect(tokens.refresh_token).toBeTruthy();
  expect(tokens.expires_in).toBeLessThanOrEqual(300);
  const jwks = createRemoteJWKSet(new URL(`${vigil.issuer}/jwks`));
  await expect(jwtVerify(tokens.id_token!, jwks, { issuer: vigil.issuer, audience: web.client_id })).resolves.toBeTruthy();
  const userinfo = await oidc.fetchUserInfo(await rpConfig(web), tokens.access_token, accountId);
  expect(userinfo.email).toBe('ada@vigil.test');
  expect(userinfo.roles).toEqual(['engineer']);
});

test('a public client must use PKCE', async () => {
  const config = await rpConfig(publicClient);
  const url = oidc.buildAuthorizationUrl(config, { redirect_uri: redirectUri(), scope: 'openid', state: 'x' });
  const page = await new Browser().follow(url.toString(), (u) => u.startsWith(redirectUri()));
  const location = new URL(page.location!);
  expect(location.searchParams.get('error')).toBe('invalid_request');
  expect(location.searchParams.get('error_description')).toMatch(/PKCE/);
  const { tokens } = await loginWithCode(publicClient);
  expect(tokens.access_token).toBeTruthy();
});

test('access tokens for a registered resource server are RFC 9068 JWTs with roles and scopes', async () => {
  const { tokens } = await loginWithCode(web, { resource: API, scope: 'openid offline_access read:things' });
  expect(decodeProtectedHeader(tokens.access_token).typ).toBe('at+jwt');
  const jwks = createRemoteJWKSet(new URL(`${vigil.issuer}/jwks`));
  const { payload } = await jwtVerify(tokens.access_token, jwks, { issuer: vigil.issuer, audience: API, typ: 'at+jwt' });
  expect(payload.sub).toBe(accountId);
  expect(payload.roles).toEqual(['engineer']);
  expect(payload.scope).toBe('read:things');
  expect(payload.client_id).toBe(web.client_id);
  expect(payload.exp! - payload.iat!).toBe(300);
});

test('refresh rotates the refresh token; reusing the old one is refused and revokes the grant', async () => {
  const { config, tokens } = await loginWithCode(web);
  const first = tokens.refresh_token!;
  const rotated = await oidc.refreshTokenGrant(config, first);
  expect(rotated.refresh_token).toBeTruthy();
  expect(rotated.refresh_token).not.toBe(first);
  await expect(oidc.refreshTokenGrant(config, first)).rejects.toMatchObject({ error: 'invalid_grant' });
  // The whole grant is gone: the rotated token no longer works either.
  await expect(oidc.refreshTokenGrant(config, rotated.refresh_token!)).rejects.toMatchObject({ error: 'invalid_grant' });
  await new Promise((r) => setTimeout(r, 300));
  expect(vigil.output()).toMatch(/refresh token reuse detected/);
});

test('two concurrent refreshes of one token: exactly one succeeds', async () => {
  const { config, tokens } = await loginWithCode(web);
  const results = await Promise.allSettled(Array.from({ length: 5 }, () => oidc.refreshTokenGrant(config, tokens.refresh_token!)));
  const ok = results.filter((r) => r.status === 'fulfilled');
  const refused = results.filter((r) => r.status === 'rejected') as PromiseRejectedResult[];
  expect(ok).toHaveLength(1);
  expect(refused).toHaveLength(4);
  for (const r of refused) expect(r.reason).toMatchObject({ error: 'invalid_grant' });
});

test('a refresh token bound to its session stops working when the session is gone, also one this instance just rotated', async () => {
  // Without offline_access the refresh token lives only as long as the sign-in session.
  const { config, tokens, browser } = await loginWithCode(web, { scope: 'openid email' });
  const rotated = await oidc.refreshTokenGrant(config, tokens.refresh_token!);
  const again = await oidc.refreshTokenGrant(config, rotated.refresh_token!);
  // The session ends behind the provider's back (as when its record expires in Redis).
  const sessionId = /(?:^|; )_session=([^;]+)/.exec(browser.jar.header())?.[1];
  expect(sessionId).toBeDefined();
  const redis = new Redis(env.REDIS_URL);
  try {
    expect(await redis.del(`vigil:oidc:Session:${sessionId}`)).toBe(1);
  } finally {
    redis.disconnect();
  }
  await expect(oidc.refreshTokenGrant(config, again.refresh_token!)).rejects.toMatchObject({ error: 'invalid_grant' });
});

test('client_credentials: JWT for a JWT resource server, opaque for an opaque one', async () => {
  const config = await rpConfig(machine);
  const jwt = await oidc.clientCredentialsGrant(config, { resource: API, scope: 'read:things' });
  expect(decodeProtectedHeader(jwt.access_token).typ).toBe('at+jwt');
  const opaque = await oidc.clientCredentialsGrant(config, { resource: OPAQUE_API, scope: 'read:opaque' });
  expect(opaque.access_token.split('.')).toHaveLength(1);
  await expect(oidc.clientCredentialsGrant(config, { resource: 'https://unknown.vigil.test' })).rejects.toMatchObject({ error: 'invalid_target' });
  // A client not allowed the resource gets nothing for it.
  await expect(oidc.clientCredentialsGrant(await rpConfig(stranger), { resource: API, scope: 'read:things' })).rejects.toMatchObject({ error: 'invalid_target' });
});

test('introspection: only resource servers may ask; active until revoked; unknown is inactive', async () => {
  const machineConfig = await rpConfig(machine);
  const { access_token: token } = await oidc.clientCredentialsGrant(machineConfig, { resource: OPAQUE_API, scope: 'read:opaque' });
  const rs = await rpConfig(opaqueApi);
  const active = await oidc.tokenIntrospection(rs, token);
  expect(active.active).toBe(true);
  expect(active.client_id).toBe(machine.client_id);
  expect(active.aud).toBe(OPAQUE_API);
  const unknown = await oidc.tokenIntrospection(rs, 'not-a-token-at-all');
  expect(unknown.active).toBe(false);
  // A client that is not a resource server learns nothing, nor does another resource server.
  await expect(oidc.tokenIntrospection(await rpConfig(web), token)).resolves.toEqual({ active: false });
  await expect(oidc.tokenIntrospection(await rpConfig(api), token)).resolves.toEqual({ active: false });
  await oidc.tokenRevocation(machineConfig, token);
  expect((await oidc.tokenIntrospection(rs, token)).active).toBe(false);
});

test('a client with the introspection permission sees a user refresh token, until it is revoked', async () => {
  const { config, tokens } = await loginWithCode(web);
  // A resource server sees only access tokens issued for it, not refresh tokens.
  expect(await oidc.tokenIntrospection(await rpConfig(api), tokens.refresh_token!)).toEqual({ active: false });
  const rs = await rpConfig(auditor);
  expect((await oidc.tokenIntrospection(rs, tokens.refresh_token!)).active).toBe(true);
  await oidc.tokenRevocation(config, tokens.refresh_token!);
  expect((await oidc.tokenIntrospection(rs, tokens.refresh_token!)).active).toBe(false);
  await expect(oidc.refreshTokenGrant(config, tokens.refresh_token!)).rejects.toMatchObject({ error: 'invalid_grant' });
});

test('dynamic registration needs an initial access token; RFC 7592 read, update, delete', async () => {
  const metadata = { client_name: 'Registered', redirect_uris: ['https://rp.vigil.test/cb'] };
  const refused = await fetch(`${vigil.issuer}/reg`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(metadata) });
  expect(refused.status).toBe(401);
  expect((await refused.json()).error).toBe('invalid_token');

  const { initial_access_token: iat } = await vigilCli<{ initial_access_token: string }>(env, ['registration-token', 'create', '--expires-in', '600']);
  const registered = await oidc.dynamicClientRegistration(new URL(vigil.issuer), metadata, undefined, { initialAccessToken: iat, ...insecure });
  const meta = registered.clientMetadata();
  expect(meta.client_id).toMatch(/^[A-Za-z0-9_][A-Za-z0-9_-]{21}$/); // Vigil's ids, which never begin with '-'
  expect(meta.client_secret).toBeTruthy();
  const regUri = meta.registration_client_uri as string;
  const rat = meta.registration_access_token as string;

  const read = await fetch(regUri, { headers: { authorization: `Bearer ${rat}` } });
  expect(read.status).toBe(200);
  expect((await read.json()).client_name).toBe('Registered');

  const updated = await fetch(regUri, {
    method: 'PUT',
    headers: { authorization: `Bearer ${rat}`, 'content-type': 'application/json' },
    body: JSON.stringify({ client_id: meta.client_id, client_name: 'Renamed', redirect_uris: ['https://rp.vigil.test/cb2'] }),
  });
  expect(updated.status).toBe(200);
  const updatedBody = await updated.json();
  expect(updatedBody.client_name).toBe('Renamed');
  const rat2 = updatedBody.registration_access_token as string;
  expect(rat2).not.toBe(rat);

  const deleted = await fetch(regUri, { method: 'DELETE', headers: { authorization: `Bearer ${rat2}` } });
  expect(deleted.status).toBe(204);
  const gone = await fetch(regUri, { headers: { authorization: `Bearer ${rat2}` } });
  expect(gone.status).toBe(401);
});

test('RP-initiated logout ends the session and delivers a back-channel logout token', async () => {
  // Without offline_access the refresh token lives only as long as the session.
  const { config, tokens, browser } = await loginWithCode(web, { scope: 'openid email' });
  const sid = tokens.claims()!.sid as string;
  expect(sid).toBeTruthy();
  const endUrl = oidc.buildEndSessionUrl(config, { id_token_hint: tokens.id_token!, post_logout_redirect_uri: `http://127.0.0.1:${rpPort}/bye`, state: 'bye-state' });
  const page = await browser.follow(endUrl.toString());
  expect(page.status).toBe(200);
  expect(page.body).toContain('Sign out');
  const done = await browser.submit(page, '/session/end/confirm', { xsrf: hiddenField(page.body, 'xsrf'), logout: 'yes' }, (u) => u.startsWith(`http://127.0.0.1:${rpPort}/bye`));
  expect(done.location).toBe(`http://127.0.0.1:${rpPort}/bye?state=bye-state`);

  for (let i = 0; i < 50 && backchannelTokens.length === 0; i++) await new Promise((r) => setTimeout(r, 100));
  expect(backchannelTokens.length).toBeGreaterThan(0);
  const jwks = createRemoteJWKSet(new URL(`${vigil.issuer}/jwks`));
  const { payload, protectedHeader } = await jwtVerify(backchannelTokens.at(-1)!, jwks, { issuer: vigil.issuer, audience: web.client_id });
  expect(protectedHeader.typ).toBe('logout+jwt');
  expect(payload.sid).toBe(sid);
  expect(payload.events).toHaveProperty(['http://schemas.openid.net/event/backchannel-logout']);
  // The session is gone: a new authorization request asks for the password again.
  const again = oidc.buildAuthorizationUrl(config, { redirect_uri: redirectUri(), scope: 'openid', code_challenge: 'x'.repeat(43), code_challenge_method: 'S256' });
  const loginPage = await browser.follow(again.toString());
  expect(loginPage.body).toContain('name="password"');
  // The refresh token of that session no longer works.
  await expect(oidc.refreshTokenGrant(config, tokens.refresh_token!)).rejects.toMatchObject({ error: 'invalid_grant' });
});

test('metrics count tokens and logins; they are readable from loopback', async () => {
  const res = await fetch(`${vigil.url}/metrics`);
  expect(res.status).toBe(200);
  const text = await res.text();
  expect(text).toMatch(/vigil_tokens_issued_total\{grant_type="authorization_code"\} \d+/);
  expect(text).toMatch(/vigil_tokens_issued_total\{grant_type="refresh_token"\} \d+/);
  expect(text).toMatch(/vigil_logins_total\{outcome="success"\} \d+/);
  expect(text).toMatch(/vigil_http_request_duration_seconds_bucket\{le="0.005",route="\/token",method="POST"\}/);
  const health = await fetch(`${vigil.url}/readyz`);
  expect(await health.json()).toEqual({ status: 'ready', checks: { postgres: 'ok', redis: 'ok' } });
});

test('no password, secret, code or token appears in the logs of all the flows above', async () => {
  const { tokens, callback } = await loginWithCode(web);
  const code = new URL(callback).searchParams.get('code')!;
  await new Promise((r) => setTimeout(r, 200));
  const logs = vigil.output();
  expect(logs.length).toBeGreaterThan(1000);
  for (const line of logs.split('\n').filter((l) => l.startsWith('{'))) expect(JSON.parse(line)).toHaveProperty('level');
  const requestLines = logs.split('\n').filter((l) => l.includes('"msg":"request"'));
  expect(requestLines.length).toBeGreaterThan(10);
  for (const line of requestLines) expect(JSON.parse(line).reqId).toMatch(/^[0-9a-f-]{36}$/);
  for (const secret of [...secretsUsed, code, tokens.access_token, tokens.refresh_token!, tokens.id_token!]) {
    expect(logs).not.toContain(secret);
  }
});
