/**
 * Federation with an upstream OpenID Connect provider: a second Vigil is the upstream (the
 * downstream is registered there as a client), driven by a cookie jar per host. Email-first
 * sign-in routes by domain; the first sign-in provisions the account (roles from the groups); an
 * existing account is linked only after its password; an upstream's acr counts only for a
 * trusted provider; a CAEP session-revoked from the upstream ends the session; ID tokens for
 * another audience or with another nonce (a fake upstream built with jose) are refused with
 * nothing stored; a bad federation file is refused at start and at SIGHUP.
 */
import { createServer, type Server } from 'node:http';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as oidc from 'openid-client';
import pg from 'pg';
import { exportJWK, generateKeyPair, SignJWT, type JWK } from 'jose';
import { freePort, hangUp, newMasterKey, runScript, tempDir, vigilCli } from '../support/vigil-process.ts';
import { sealWithCli, sessionRevokedSet } from '../support/federation.ts';
import { SoftAuthenticator, userHandleOf } from '../support/soft-authenticator.ts';
import { Browser, CookieJar, formAction, hiddenField, type Page } from '../support/browserless.ts';
import { discover, pkceAuthorization, startStack, type ClientOut, type Stack } from '../support/stack.ts';
import { clientCredentialsToken, jsonCall } from '../support/json-api.ts';

const UP_PASSWORD = 'upstream password 12345';
const DOWN_PASSWORD = 'downstream password 12345';
const APP_REDIRECT = 'http://127.0.0.1:9/cb';

/** Cookies per host, as a browser keeps them (the two Vigils use the same cookie names). */
class HostBrowser extends Browser {
  readonly #jars = new Map<string, CookieJar>();

  /** The address the downstream sees (through its trusted proxy): its risk assessment's. */
  readonly downstreamAddress?: string;

  constructor(downstreamAddress?: string) {
    super();
    this.downstreamAddress = downstreamAddress;
  }

  override async request(url: string, init: RequestInit = {}): Promise<Page> {
    const host = new URL(url).host;
    let jar = this.#jars.get(host);
    if (!jar) this.#jars.set(host, jar = new CookieJar());
    const headers = new Headers(init.headers);
    const cookie = jar.header();
    if (cookie) headers.set('cookie', cookie);
    if (!headers.has('accept')) headers.set('accept', 'text/html');
    if (this.downstreamAddress && url.startsWith(downstream.vigil.issuer)) headers.set('x-forwarded-for', this.downstreamAddress);
    const response = await fetch(url, { ...init, headers, redirect: 'manual' });
    jar.store(response);
    const location = response.headers.get('location') ?? undefined;
    return { status: response.status, url, headers: response.headers, body: await response.text(), location: location ? new URL(location, url).toString() : undefined };
  }
}

let upstream: Stack;
let downstream: Stack;
let db: pg.Client;
let upDb: pg.Client;
let app: ClientOut;
let dir: string;
let federationFile: string;
let goodFile: string;
let fakeIssuer: string;
let fake: Server;
let fakeKeys: Awaited<ReturnType<typeof generateKeyPair>>;
let setKeys: Awaited<ReturnType<typeof generateKeyPair>>;
/** What the fake upstream's token endpoint answers with next: an ID token for these claims. */
let nextIdToken: Record<string, unknown> = {};
const upstreamIds: Record<string, string> = {};
let daveId: string;

const isApp = (u: string) => u.startsWith(APP_REDIRECT);

/**
 * Walks the pages from `start`: the email-first page (the email), the upstream's login page (its
 * password), consent on either side. Stops at the app's redirect or at any other page.
 */
async function walk(browser: Browser, start: Page, email: string): Promise<Page> {
  let page = start;
  for (let step = 0; step < 10; step++) {
    if (page.location && isApp(page.location)) return page;
    const atUpstream = page.url.startsWith(upstream.vigil.issuer);
    if (page.body.includes('/identify"')) {
      page = await browser.submit(page, formAction(page.body, '/identify'), { csrf: hiddenField(page.body, 'csrf'), email }, isApp);
    } else if (atUpstream && page.body.includes('/login"')) {
      page = await browser.submit(page, formAction(page.body, '/login'), { csrf: hiddenField(page.body, 'csrf'), email, password: UP_PASSWORD }, isApp);
    } else if (page.body.includes('/confirm"')) {
      page = await browser.submit(page, formAction(page.body, '/confirm'), { csrf: hiddenField(page.body, 'csrf') }, isApp);
    } else {
      return page;
    }
  }
  throw new Error('the sign-in went round in circles');
}

async function authorize(extra: Record<string, string> = {}) {
  const config = await discover(downstream.vigil.issuer, app);
  return pkceAuthorization(config, { redirect_uri: APP_REDIRECT, scope: 'openid email profile offline_access', prompt: 'consent', ...extra });
}

const linkOf = async (provider: string, email: string) =>
  (await db.query('SELECT f.subject, f.provisioned FROM federated_identities f JOIN accounts a ON a.id = f.account_id WHERE f.provider = $1 AND a.email = $2', [provider, email])).rows;

beforeAll(async () => {
  dir = tempDir('vigil-federation-');
  const [upPort, downPort, fakePort] = await Promise.all([freePort(), freePort(), freePort()]);
  fakeIssuer = `http://localhost:${fakePort}`;
  fakeKeys = await generateKeyPair('ES256');
  setKeys = await generateKeyPair('ES256');
  const fakeJwk = { ...await exportJWK(fakeKeys.publicKey), kid: 'fake', alg: 'ES256', use: 'sig' } as JWK;
  fake = createServer((req, res) => {
    const url = new URL(req.url ?? '/', fakeIssuer);
    const json = (body: unknown) => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    if (url.pathname === '/.well-known/openid-configuration') {
      return json({
        issuer: fakeIssuer, authorization_endpoint: `${fakeIssuer}/authorize`, token_endpoint: `${fakeIssuer}/token`, jwks_uri: `${fakeIssuer}/jwks`,
        response_types_supported: ['code'], subject_types_supported: ['public'], id_token_signing_alg_values_supported: ['ES256'], code_challenge_methods_supported: ['S256'],
      });
    }
    if (url.pathname === '/jwks') return json({ keys: [fakeJwk] });
    if (url.pathname === '/token') {
      req.resume();
      req.on('end', async () => {
        const now = Math.floor(Date.now() / 1000);
        const idToken = await new SignJWT({ iss: fakeIssuer, sub: 'fake-subject', aud: 'fake-client', iat: now, exp: now + 300, email: 'mallory@fake.test', email_verified: true, ...nextIdToken })
          .setProtectedHeader({ alg: 'ES256', kid: 'fake' }).sign(fakeKeys.privateKey);
        json({ access_token: 'at', token_type: 'Bearer', expires_in: 300, id_token: idToken });
      });
      return;
    }
    res.writeHead(404).end();
  });
  await new Promise<void>((resolve) => fake.listen(fakePort, '127.0.0.1', resolve));

  // The upstream (at localhost) and the downstream (at 127.0.0.1): two hosts, two cookie jars.
  // No account cache at the upstream: a role changed by its CLI is in its next ID token.
  upstream = await startStack({ VIGIL_METADATA_CACHE_SECONDS: '0' }, { port: upPort, issuerHost: 'localhost' });
  const callback = (provider: string) => `http://127.0.0.1:${downPort}/federation/${provider}/callback`;
  const registered = await vigilCli<ClientOut>(upstream.env, ['client', 'create', '--name', 'Downstream Vigil', '--redirect-uri', callback('corp'), '--redirect-uri', callback('trusted')]);
  for (const [email, role] of [['alice@corp.test', 'engineer'], ['bob@corp.test', 'sales'], ['carol@corp.test', 'sales'], ['erin@corp.test', 'sales'], ['dave@corp.test', 'sales'], ['frank@corp.test', 'sales']]) {
    upstreamIds[email] = (await vigilCli<{ id: string }>(upstream.env, ['user', 'create', '--email', email, '--password', UP_PASSWORD, '--role', role])).id;
  }
  upDb = new pg.Client({ connectionString: upstream.db.url });
  await upDb.connect();
  // Bob's address is verified upstream (an emailed link there); Carol's is not.
  await upDb.query('UPDATE accounts SET email_verified = true WHERE email = ANY($1)', [['bob@corp.test', 'dave@corp.test']]);

  const masterKey = newMasterKey();
  const sealed = sealWithCli(masterKey, 'corp', 'client_secret', registered.client_secret!);
  const sealedTrusted = sealWithCli(masterKey, 'trusted', 'client_secret', registered.client_secret!);
  expect(sealed).toMatch(/^v1\./);
  const common = { issuer: upstream.vigil.issuer, client_id: registered.client_id, claims: { groups: 'roles' } };
  goodFile = JSON.stringify({
    providers: [
      {
        id: 'corp', kind: 'oidc', display_name: 'Corp SSO', domains: ['corp.test'], ...common, client_secret: sealed,
        provisioning: { allowed: true, default_roles: ['staff'] }, group_roles: { engineer: ['dev'] },
      },
      {
        id: 'trusted', kind: 'oidc', display_name: 'Corp SSO (trusted)', ...common, client_secret: sealedTrusted,
        provisioning: { allowed: true, default_roles: [] }, trusted_acr: { 'urn:vigil:acr:1fa': 'urn:vigil:acr:2fa' },
      },
      { id: 'fake', kind: 'oidc', display_name: 'Fake', domains: ['fake.test'], issuer: fakeIssuer, client_id: 'fake-client', button: false, provisioning: { allowed: true, default_roles: [] } },
    ],
  });
  federationFile = join(dir, 'federation.json');
  writeFileSync(federationFile, goodFile);
  const knownBad = join(dir, 'known-bad.txt');
  writeFileSync(knownBad, '203.0.113.0/24\n');
  const transmitters = join(dir, 'transmitters.json');
  writeFileSync(transmitters, JSON.stringify({ transmitters: [{ issuer: upstream.vigil.issuer, jwks: { keys: [{ ...await exportJWK(setKeys.publicKey), kid: 'up' }] } }] }));
  downstream = await startStack({
    VIGIL_MASTER_KEY: masterKey, VIGIL_FEDERATION_FILE: federationFile, VIGIL_SSF_TRANSMITTERS: transmitters,
    VIGIL_ALLOWED_OUTGOING_HOSTS: `localhost:${upPort},localhost:${fakePort}`,
    TRUST_PROXY: '127.0.0.1/32', VIGIL_NETWORK_LISTS: `known_bad=${knownBad}`,
  }, { port: downPort });
  app = await vigilCli<ClientOut>(downstream.env, ['client', 'create', '--name', 'App', '--redirect-uri', APP_REDIRECT]);
  await vigilCli(downstream.env, ['user', 'create', '--email', 'bob@corp.test', '--password', DOWN_PASSWORD]);
  await vigilCli(downstream.env, ['user', 'create', '--email', 'carol@corp.test', '--password', DOWN_PASSWORD]);
  daveId = (await vigilCli<{ id: string }>(downstream.env, ['user', 'create', '--email', 'dave@corp.test', '--password', DOWN_PASSWORD])).id;
  db = new pg.Client({ connectionString: downstream.db.url });
  await db.connect();
}, 180_000);

afterAll(async () => {
  await db?.end();
  await upDb?.end();
  await downstream?.stop();
  await upstream?.stop();
  await new Promise((resolve) => fake?.close(resolve));
});

let aliceRefresh: string;
let aliceConfig: oidc.Configuration;

test('email first: the domain routes to the upstream, the first sign-in provisions the account with the mapped roles, tokens reach the app', async () => {
  const request = await authorize();
  const browser = new HostBrowser();
  const first = await browser.follow(request.url, isApp);
  expect(first.body).toContain('/identify"');
  expect(first.body).toContain('id="provider-trusted"');
  expect(first.body).not.toContain('id="provider-fake"');
  expect(first.body).not.toContain('name="password"');
  const end = await walk(browser, first, 'alice@corp.test');
  expect(end.location).toMatch(/^http:\/\/127\.0\.0\.1:9\/cb\?code=/);
  const tokens = await request.redeem(end.location!);
  const claims = tokens.claims()!;
  expect(claims.email).toBe('alice@corp.test');
  expect(claims.acr).toBe('urn:vigil:acr:1fa');
  expect(claims.amr).toEqual(['fed']);
  expect([...(claims.roles as string[])].sort()).toEqual(['dev', 'staff']);
  const link = await linkOf('corp', 'alice@corp.test');
  expect(link).toEqual([{ subject: upstreamIds['alice@corp.test'], provisioned: true }]);
  const audit = await db.query("SELECT details FROM audit_log WHERE action = 'account.provisioned'");
  expect(audit.rows[0].details).toMatchObject({ provider: 'corp', roles: ['dev', 'staff'] });
  const status = await db.query("SELECT last_sign_in_at FROM federation_status WHERE provider = 'corp'");
  expect(status.rows[0].last_sign_in_at).not.toBeNull();
  aliceRefresh = tokens.refresh_token!;
  aliceConfig = request.config;
  // A refresh of the federated session is allowed (and scored) like any other.
  aliceRefresh = (await oidc.refreshTokenGrant(aliceConfig, aliceRefresh)).refresh_token!;
  expect(aliceRefresh).toBeDefined();
}, 60_000);

test('an existing account is not linked by the email alone: the password of the account links it', async () => {
  const request = await authorize();
  const browser = new HostBrowser();
  let page = await walk(browser, await browser.follow(request.url, isApp), 'bob@corp.test');
  expect(page.body).toContain('/federation/link"');
  expect(page.body).toContain('bob@corp.test');
  expect(await linkOf('corp', 'bob@corp.test')).toEqual([]);
  // A wrong password: still not linked, the same page with its error.
  page = await browser.submit(page, formAction(page.body, '/federation/link'), { csrf: hiddenField(page.body, 'csrf'), password: 'not the password 123' }, isApp);
  expect(page.status).toBe(401);
  expect(page.body).toContain('id="error"');
  expect(await linkOf('corp', 'bob@corp.test')).toEqual([]);
  page = await browser.submit(page, formAction(page.body, '/federation/link'), { csrf: hiddenField(page.body, 'csrf'), password: DOWN_PASSWORD }, isApp);
  page = await walk(browser, page, 'bob@corp.test');
  expect(page.location).toMatch(/\?code=/);
  expect(await linkOf('corp', 'bob@corp.test')).toEqual([{ subject: upstreamIds['bob@corp.test'], provisioned: false }]);
  const linked = await db.query("SELECT details FROM audit_log WHERE action = 'federation.linked'");
  expect(linked.rows[0].details).toMatchObject({ provider: 'corp', proof: 'pwd' });

  // An upstream that does not vouch for the address: refused, nothing linked.
  const carol = await authorize();
  const other = new HostBrowser();
  const refused = await walk(other, await other.follow(carol.url, isApp), 'carol@corp.test');
  expect(refused.status).toBe(403);
  expect(refused.body).toContain('did not confirm that the address is verified');
  expect(await linkOf('corp', 'carol@corp.test')).toEqual([]);
}, 60_000);

test('linking with the passkey of the existing account instead of its password', async () => {
  const passkey = new SoftAuthenticator({ seed: 'dave-laptop' });
  await db.query(
    "INSERT INTO webauthn_credentials (id, account_id, name, public_key, sign_count, transports, device_type, backed_up) VALUES ($1, $2, 'Laptop', $3, 0, '{internal}', 'singleDevice', false)",
    [passkey.id, daveId, Buffer.from(passkey.cosePublicKey()).toString('base64url')],
  );
  const request = await authorize();
  const browser = new HostBrowser();
  const page = await walk(browser, await browser.follow(request.url, isApp), 'dave@corp.test');
  expect(page.body).toContain('id="prove-passkey"');
  const csrf = hiddenField(page.body, 'csrf');
  const base = page.url.replace(/\/link$/, '/link/webauthn');
  const json = (path: string, body: unknown) => browser.request(`${base}/${path}`, { method: 'POST', headers: { 'content-type': 'application/json', accept: 'application/json' }, body: JSON.stringify(body) });
  const options = JSON.parse((await json('options', { csrf })).body) as { challenge: string };
  const response = passkey.assert({ rpId: '127.0.0.1', origin: downstream.vigil.issuer, challenge: options.challenge, userHandle: userHandleOf(daveId), userVerified: true });
  const verified = await json('verify', { csrf, response });
  expect(verified.status).toBe(200);
  const { redirect } = JSON.parse(verified.body) as { redirect: string };
  const end = await walk(browser, await browser.follow(new URL(redirect, page.url).toString(), isApp), 'dave@corp.test');
  // The upstream sign-in and the passkey of the account: a phishing-resistant sign-in.
  expect((await request.redeem(end.location!)).claims()!.acr).toBe('urn:vigil:acr:phr');
  expect(await linkOf('corp', 'dave@corp.test')).toEqual([{ subject: upstreamIds['dave@corp.test'], provisioned: false }]);
}, 60_000);

test('a federated sign-in is risk-assessed like any other: from a known-bad address it is refused, no code reaches the app', async () => {
  const request = await authorize();
  const browser = new HostBrowser('203.0.113.9');
  const page = await walk(browser, await browser.follow(request.url, isApp), 'frank@corp.test');
  expect(page.status).toBe(403);
  expect(page.location).toBeUndefined();
  expect(page.body).toContain('looks unusual for this account');
  const denied = await db.query("SELECT details FROM audit_log WHERE action = 'login' AND outcome = 'denied' AND details->>'provider' = 'corp'");
  expect(denied.rows[0].details).toMatchObject({ reason: 'risk', provider: 'corp', notProvisioned: true, email: 'frank@corp.test' });
  // A refused first sign-in makes no account and no link: provisioning waits for an allowed one.
  expect((await db.query("SELECT 1 FROM accounts WHERE email = 'frank@corp.test'")).rows).toEqual([]);
  expect(await linkOf('corp', 'frank@corp.test')).toEqual([]);
}, 60_000);

test('the upstream acr counts only for a provider trusted for it; otherwise Vigil asks its own second factor', async () => {
  // Untrusted (routed by domain): the app asks for 2fa, Alice has no factor of Vigil's: the factor page says so.
  const untrusted = await authorize({ acr_values: 'urn:vigil:acr:2fa' });
  let browser = new HostBrowser();
  const page = await walk(browser, await browser.follow(untrusted.url, isApp), 'alice@corp.test');
  expect(page.body).toContain('id="factor-missing"');

  // Trusted (its button): the same kind of upstream sign-in (a password there) earns 2fa; Erin is new here (provisioned).
  const trusted = await authorize({ acr_values: 'urn:vigil:acr:2fa' });
  browser = new HostBrowser();
  const login = await browser.follow(trusted.url, isApp);
  const button = /href="([^"]*\/federation\/trusted)"/.exec(login.body)![1];
  const end = await walk(browser, await browser.follow(new URL(button, login.url).toString(), isApp), 'erin@corp.test');
  expect(`${end.status} ${end.location ?? end.body.slice(0, 3000)}`).toMatch(/\?code=/);
  const claims = (await trusted.redeem(end.location!)).claims()!;
  expect(claims.acr).toBe('urn:vigil:acr:2fa');
}, 60_000);

test('a CAEP session-revoked from the upstream ends the session begun through it: its refresh fails', async () => {
  const sessions = await db.query("SELECT session_uid FROM federated_sessions WHERE provider = 'corp' AND subject = $1", [upstreamIds['alice@corp.test']]);
  expect(sessions.rows.length).toBeGreaterThan(0);
  const set = await sessionRevokedSet(setKeys.privateKey, 'up', upstream.vigil.issuer, downstream.vigil.issuer, upstreamIds['alice@corp.test']);
  const res = await fetch(`${downstream.vigil.issuer}/ssf/receive`, { method: 'POST', headers: { 'content-type': 'application/secevent+jwt' }, body: set });
  expect(res.status).toBe(202);
  await expect(oidc.refreshTokenGrant(aliceConfig, aliceRefresh)).rejects.toMatchObject({ error: 'invalid_grant' });
}, 30_000);

describe('ID tokens the downstream must refuse (a fake upstream)', () => {
  async function fakeSignIn(): Promise<Page> {
    const request = await authorize();
    const browser = new HostBrowser();
    const login = await browser.follow(request.url, isApp);
    const toProvider = await browser.submit(login, formAction(login.body, '/identify'), { csrf: hiddenField(login.body, 'csrf'), email: 'mallory@fake.test' }, (u) => u.startsWith(fakeIssuer));
    const authorization = new URL(toProvider.location!);
    expect(authorization.origin).toBe(fakeIssuer);
    expect(authorization.searchParams.get('code_challenge_method')).toBe('S256');
    nextIdToken.nonce ??= authorization.searchParams.get('nonce');
    const callback = new URL(authorization.searchParams.get('redirect_uri')!);
    callback.searchParams.set('code', 'a-code');
    callback.searchParams.set('state', authorization.searchParams.get('state')!);
    return browser.follow(callback.toString(), isApp);
  }

  test.each([
    ['another audience', { aud: 'someone-else' }, 'wrong_audience'],
    ['another nonce', { nonce: 'not-the-nonce' }, 'wrong_nonce'],
  ])('%s: a clear page, nothing stored', async (_what, claims, code) => {
    nextIdToken = { ...claims };
    const page = await fakeSignIn();
    expect(page.status).toBe(400);
    expect(page.body).toContain('id="federation-problem"');
    expect(page.body).toContain('could not be accepted');
    expect((await db.query("SELECT 1 FROM accounts WHERE email = 'mallory@fake.test'")).rows).toEqual([]);
    expect((await db.query("SELECT 1 FROM federated_identities WHERE provider = 'fake'")).rows).toEqual([]);
    const status = await db.query("SELECT last_error FROM federation_status WHERE provider = 'fake'");
    expect(status.rows[0].last_error).toMatch(new RegExp(`^${code}:`));
    const audit = await db.query("SELECT details FROM audit_log WHERE action = 'federation.sign_in' AND outcome = 'failure' ORDER BY seq DESC LIMIT 1");
    expect(audit.rows[0].details).toEqual({ provider: 'fake', code });
  }, 30_000);

  test('the right token: the account is provisioned (the fake works when nothing is wrong)', async () => {
    nextIdToken = {};
    const page = await fakeSignIn();
    expect(page.body).toContain('/confirm"');
    expect((await db.query("SELECT 1 FROM accounts WHERE email = 'mallory@fake.test'")).rows).toHaveLength(1);
  }, 30_000);
});

test('the group mapping follows the upstream: the next sign-in of a provisioned account takes its new roles', async () => {
  await vigilCli(upstream.env, ['user', 'set-roles', '--email', 'alice@corp.test', '--role', 'sales']);
  const request = await authorize();
  const browser = new HostBrowser();
  const end = await walk(browser, await browser.follow(request.url, isApp), 'alice@corp.test');
  expect((await request.redeem(end.location!)).claims()!.roles).toEqual(['staff']);
  const audit = await db.query("SELECT details FROM audit_log WHERE action = 'account.roles_changed' AND actor = 'federation:corp'");
  expect(audit.rows[0].details).toMatchObject({ provider: 'corp', previous: ['dev', 'staff'], roles: ['staff'] });
}, 60_000);

test('vigil federation list and test: discovery is fetched and reported; an unreachable provider exits non-zero', async () => {
  const list = await runScript('src/cli.ts', ['federation', 'list', '--json'], downstream.env);
  expect(list.code).toBe(0);
  expect(JSON.parse(list.stdout).map((p: { id: string }) => p.id)).toEqual(['corp', 'trusted', 'fake']);
  const tested = await runScript('src/cli.ts', ['federation', 'test', 'corp'], downstream.env);
  expect(tested.code).toBe(0);
  expect(tested.stdout).toContain(`corp: ok: issuer ${upstream.vigil.issuer}`);
  expect(tested.stdout).toContain('PKCE S256');
  const closedPort = await freePort();
  const unreachable = join(dir, 'unreachable.json');
  writeFileSync(unreachable, JSON.stringify({ providers: [{ id: 'gone', kind: 'oidc', display_name: 'Gone', issuer: `http://localhost:${closedPort}`, client_id: 'x' }] }));
  const failed = await runScript('src/cli.ts', ['federation', 'test', 'gone'], { ...downstream.env, VIGIL_FEDERATION_FILE: unreachable, VIGIL_ALLOWED_OUTGOING_HOSTS: `localhost:${closedPort}` });
  expect(failed.code).toBe(1);
  expect(failed.stderr).toMatch(/^vigil: gone: unreachable: the provider could not be reached/);
  // Without the exception for the loopback host, the outgoing fetch refuses to call it at all.
  const refused = await runScript('src/cli.ts', ['federation', 'test', 'gone'], { ...downstream.env, VIGIL_FEDERATION_FILE: unreachable, VIGIL_ALLOWED_OUTGOING_HOSTS: '' });
  expect(refused.code).toBe(1);
  expect(refused.stderr).toMatch(/private or loopback address/);
}, 60_000);

test('the admin API lists the providers with their last sign-in and last error', async () => {
  const adminApi = `${downstream.vigil.issuer}/admin/api`;
  const reader = await vigilCli<ClientOut>(downstream.env, ['client', 'create', '--name', 'SIEM', '--grant-type', 'client_credentials', '--allow-resource', adminApi, '--scope', 'admin:read']);
  const token = await clientCredentialsToken(downstream.vigil.issuer, reader, adminApi, 'admin:read');
  const answer = await jsonCall(adminApi, 'GET', '/federation/providers', token);
  expect(answer.status).toBe(200);
  const byId: Record<string, Record<string, unknown>> = Object.fromEntries((answer.body.providers as { id: string }[]).map((p) => [p.id, p]));
  expect(Object.keys(byId).sort()).toEqual(['corp', 'fake', 'trusted']);
  expect(byId.corp).toMatchObject({ kind: 'oidc', displayName: 'Corp SSO', domains: ['corp.test'], provisioning: true, trustedAcr: false, lastError: expect.stringMatching(/^email_unverified/) });
  expect(Date.parse(byId.corp.lastSignInAt as string)).toBeGreaterThan(Date.now() - 600_000);
  expect(byId.fake).toMatchObject({ button: false, lastError: expect.stringMatching(/^wrong_nonce:/) });
  expect(byId.trusted).toMatchObject({ trustedAcr: true, domains: [] });
  expect((await jsonCall(adminApi, 'GET', '/federation/providers', undefined)).status).toBe(401);
}, 30_000);

test('a bad federation file: refused at start naming the setting, and at SIGHUP the running providers stay', async () => {
  const bad = join(dir, 'bad-federation.json');
  writeFileSync(bad, JSON.stringify({ providers: [{ id: 'x', kind: 'oidc', display_name: 'X', issuer: 'https://x.example', client_id: 'c', client_secret: 'plain text secret' }] }));
  const started = await runScript('src/main.ts', [], { ...downstream.env, PORT: String(await freePort()), VIGIL_FEDERATION_FILE: bad });
  expect(started.code).toBe(1);
  expect(started.stderr).toContain(`VIGIL_FEDERATION_FILE: ${bad}: providers.x.client_secret: must be a sealed value`);
  expect(started.stderr).not.toContain('plain text secret');

  writeFileSync(federationFile, JSON.stringify({ providers: [{ id: 'a', kind: 'oidc', display_name: 'A', domains: ['corp.test'], issuer: 'https://a.example', client_id: 'a' },
    { id: 'b', kind: 'oidc', display_name: 'B', domains: ['corp.test'], issuer: 'https://b.example', client_id: 'b' }] }));
  try {
    const log = await hangUp(downstream.vigil, 'reload refused');
    expect(log).toContain('corp.test is routed to a already');
    // The providers in force stay: the email still routes to corp.
    const request = await authorize();
    const browser = new HostBrowser();
    const login = await browser.follow(request.url, isApp);
    const routed = await browser.submit(login, formAction(login.body, '/identify'), { csrf: hiddenField(login.body, 'csrf'), email: 'alice@corp.test' }, (u) => u.startsWith(upstream.vigil.issuer));
    expect(routed.location).toContain(`${upstream.vigil.issuer}/auth`);
  } finally {
    writeFileSync(federationFile, goodFile);
  }
  expect(readFileSync(federationFile, 'utf8')).toBe(goodFile);
}, 60_000);
