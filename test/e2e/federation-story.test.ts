/**
 * Federation as a person sees it, in Chromium: one Vigil (downstream) in front of an upstream Vigil
 * (OpenID Connect), a SAML IdP and an LDAP directory. The email routes each person to where they
 * sign in; the first sign-in makes the account; an existing account is linked only with its own
 * password; the upstream's acr counts only for a trusted provider; the upstream's CAEP
 * session-revoked ends the session; a directory that is down says so while local accounts still work.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as oidc from 'openid-client';
import pg from 'pg';
import { exportJWK, generateKeyPair } from 'jose';
import type { Page } from 'playwright-core';
import { KeyRing } from '../../src/crypto/index.ts';
import { sealFederationSecret } from '../../src/federation/index.ts';
import { openCore } from '../../src/core.ts';
import { loadConfig } from '../../src/config/index.ts';
import { createLogger } from '../../src/observability/index.ts';
import { hangUp, newMasterKey, ROOT, tempDir, vigilCli } from '../support/vigil-process.ts';
import { sessionRevokedSet } from '../support/federation.ts';
import { discover, pkceAuthorization, startStack, type ClientOut, type Stack } from '../support/stack.ts';
import { startBrowserStack, type BrowserStack } from '../support/browser-stack.ts';
import { openBrowserSession, type BrowserSession } from '../support/chromium.ts';
import { SamlTestIdp } from '../support/saml-idp.ts';
import { startSlapd, BASE_DN, SERVICE_DN, SERVICE_PASSWORD, type Slapd } from '../support/slapd.ts';
import { enrolTotp } from '../support/totp.ts';
import type { Authenticator } from '../support/authenticator.ts';

const UP_PASSWORD = 'upstream password 12345';
const BOB_PASSWORD = 'bobs own password 12345';
const LOCAL = { email: 'local@vigil.test', password: 'a local password 123' };
const TWO_FA = 'urn:vigil:acr:2fa';

let upstream: Stack;
let stack: BrowserStack;
let idp: SamlTestIdp;
let slapd: Slapd;
let app: ClientOut;
let db: pg.Client;
let setKeys: Awaited<ReturnType<typeof generateKeyPair>>;
const upstreamIds: Record<string, string> = {};
const sessions: BrowserSession[] = [];

beforeAll(async () => {
  const dir = tempDir('vigil-federation-story-');
  const masterKey = newMasterKey();
  const keys = new KeyRing(Buffer.from(masterKey, 'base64'));
  setKeys = await generateKeyPair('ES256');
  [upstream, idp, slapd] = await Promise.all([
    startStack({ VIGIL_METADATA_CACHE_SECONDS: '0' }, { issuerHost: '127.0.0.1' }),
    SamlTestIdp.start({ user: { nameId: 'saml-7001', attributes: { email: 'frank@saml.test', displayName: 'Frank Saml' } } }),
    startSlapd(),
  ]);
  const transmitters = join(dir, 'transmitters.json');
  writeFileSync(transmitters, JSON.stringify({ transmitters: [{ issuer: upstream.vigil.issuer, jwks: { keys: [{ ...await exportJWK(setKeys.publicKey), kid: 'up' }] } }] }));
  // The downstream's port is known once it runs: it starts with no providers, then reloads the file.
  const file = join(dir, 'federation.json');
  writeFileSync(file, JSON.stringify({ providers: [] }));
  stack = await startBrowserStack({
    VIGIL_MASTER_KEY: masterKey, VIGIL_FEDERATION_FILE: file, VIGIL_SSF_TRANSMITTERS: transmitters,
    VIGIL_ALLOWED_OUTGOING_HOSTS: new URL(upstream.vigil.issuer).host,
  });
  const callback = (provider: string) => `${stack.vigil.issuer}/federation/${provider}/callback`;
  const [registered] = await Promise.all([
    vigilCli<ClientOut>(upstream.env, ['client', 'create', '--name', 'Vigil downstream', '--redirect-uri', callback('corp'), '--redirect-uri', callback('trusted')]),
    ...['grace@corp.test', 'bob@corp.test', 'erin@corp.test'].map(async (email) => {
      upstreamIds[email] = (await vigilCli<{ id: string }>(upstream.env, ['user', 'create', '--email', email, '--password', UP_PASSWORD, '--name', email.split('@')[0]])).id;
    }),
  ]);
  const upDb = new pg.Client({ connectionString: upstream.db.url });
  await upDb.connect();
  // Bob's address is verified upstream: the upstream vouches for it, still not enough to take over Bob's account here.
  await upDb.query("UPDATE accounts SET email_verified = true WHERE email = 'bob@corp.test'");
  await upDb.end();
  const oidcCommon = { kind: 'oidc', issuer: upstream.vigil.issuer, client_id: registered.client_id };
  writeFileSync(file, JSON.stringify({
    providers: [
      {
        id: 'corp', ...oidcCommon, display_name: 'Corp SSO', domains: ['corp.test'],
        client_secret: sealFederationSecret(keys, 'corp', 'client_secret', registered.client_secret!), provisioning: { allowed: true, default_roles: ['staff'] },
      },
      {
        id: 'trusted', ...oidcCommon, display_name: 'Corp SSO (trusted)', trusted_acr: { 'urn:vigil:acr:1fa': TWO_FA },
        client_secret: sealFederationSecret(keys, 'trusted', 'client_secret', registered.client_secret!), provisioning: { allowed: true, default_roles: [] },
      },
      {
        id: 'partner', kind: 'saml', display_name: 'Partner SAML', domains: ['saml.test'], idp_metadata_file: idp.writeMetadata(dir),
        trust_email_verified: true, provisioning: { allowed: true, default_roles: ['partner'] },
      },
      {
        id: 'directory', kind: 'ldap', display_name: 'Corp directory', domains: ['corp.example'], trust_email_verified: true,
        provisioning: { allowed: true, default_roles: ['directory'] },
        url: slapd.ldapsUrl, ca_file: slapd.caFile, bind_dn: SERVICE_DN, base_dn: BASE_DN,
        bind_password: sealFederationSecret(keys, 'directory', 'bind_password', SERVICE_PASSWORD), timeout_seconds: 2, recheck_seconds: 0,
      },
    ],
  }));
  await hangUp(stack.vigil, 'reloaded the risk policy');
  db = new pg.Client({ connectionString: stack.db.url });
  [app] = await Promise.all([
    vigilCli<ClientOut>(stack.env, ['client', 'create', '--name', 'Team app', '--redirect-uri', stack.redirectUri]),
    vigilCli(stack.env, ['user', 'create', '--email', 'bob@corp.test', '--password', BOB_PASSWORD]),
    vigilCli(stack.env, ['user', 'create', '--email', LOCAL.email, '--password', LOCAL.password]),
    db.connect(),
  ]);
}, 180_000);

afterAll(async () => {
  for (const s of sessions) await s.close().catch(() => {});
  await Promise.allSettled([slapd?.destroy(), db?.end(), idp?.close()]);
  await stack?.stop();
  await upstream?.stop();
}, 60_000);

async function session(name: string): Promise<BrowserSession> {
  const s = await openBrowserSession(stack.browser, `federation-story-${name}`);
  sessions.push(s);
  return s;
}

async function authorize(extra: Record<string, string> = {}) {
  return pkceAuthorization(await discover(stack.vigil.issuer, app), { redirect_uri: stack.redirectUri, scope: 'openid email profile offline_access', prompt: 'consent', ...extra });
}

const atApp = (u: URL) => u.href.startsWith(stack.redirectUri);

/**
 * Goes on from where the page is, allowing consent wherever it is asked (the upstream's, Vigil's),
 * until the browser is at the app ('app') or `stop` (a selector) shows ('stop').
 */
async function onwards(page: Page, stop?: string): Promise<'app' | 'stop'> {
  for (let step = 0; step < 6; step++) {
    if (atApp(new URL(page.url()))) return 'app';
    const waits = [
      page.waitForURL(atApp).then(() => 'app' as const),
      page.locator('#allow').waitFor().then(() => 'consent' as const),
      ...(stop ? [page.locator(stop).first().waitFor().then(() => 'stop' as const)] : []),
    ];
    waits.forEach((w) => w.catch(() => {}));
    const reached = await Promise.race(waits);
    if (reached !== 'consent') return reached;
    await page.locator('#allow').click();
    await page.waitForLoadState();
  }
  throw new Error(`the sign-in went round in circles (at ${page.url()})`);
}

/** Vigil's email-first page: the address, then Continue. */
async function giveEmail(page: Page, url: string, email: string): Promise<void> {
  await page.goto(url);
  await page.locator('#continue').waitFor();
  expect(await page.locator('#password').count()).toBe(0);
  await page.fill('#email', email);
  await page.click('#continue');
}

/**
 * At the upstream Vigil: its own sign-in page with the email given along (routed by the address),
 * or typed there (a provider's button sends none); its password.
 */
async function upstreamSignIn(page: Page, email: string, given = true): Promise<void> {
  await page.waitForURL((u) => u.href.startsWith(upstream.vigil.issuer));
  await page.locator('#password').waitFor();
  if (given) expect(await page.inputValue('#email')).toBe(email);
  else await page.fill('#email', email);
  await page.fill('#password', UP_PASSWORD);
  await page.click('#sign-in');
}

/**
 * What the pages logged besides the statuses the test provokes on purpose (a wrong password's 401,
 * the directory's 502): CSP violations, script errors, failed requests.
 */
const pageErrors = (s: BrowserSession) => s.errors.filter((e) => !/(\/federation\/link|\/login): Failed to load resource: the server responded with a status of (401|502)/.test(e));
const linkOf = async (provider: string, email: string) =>
  (await db.query('SELECT f.provisioned FROM federated_identities f JOIN accounts a ON a.id = f.account_id WHERE f.provider = $1 AND a.email = $2', [provider, email])).rows;

let grace: BrowserSession;
let graceTokens: oidc.TokenEndpointResponse;
let graceConfig: oidc.Configuration;

describe('email first: each domain routes to its provider, the first sign-in makes the account', () => {
  test('corp.test → the upstream Vigil\'s sign-in page, back signed in at the app', async () => {
    grace = await session('oidc');
    const request = await authorize();
    await giveEmail(grace.page, request.url, 'grace@corp.test');
    await upstreamSignIn(grace.page, 'grace@corp.test');
    expect(await onwards(grace.page)).toBe('app');
    expect(await grace.page.textContent('body')).toContain('relying party: ok');
    const tokens = await request.redeem(grace.page.url());
    graceTokens = tokens;
    graceConfig = request.config;
    expect(tokens.claims()).toMatchObject({ email: 'grace@corp.test', amr: ['fed'], roles: ['staff'] });
    expect(pageErrors(grace)).toEqual([]);
  }, 60_000);

  test('saml.test → the SAML IdP posts back, signed in at the app', async () => {
    const s = await session('saml');
    const request = await authorize();
    await giveEmail(s.page, request.url, 'frank@saml.test');
    expect(await onwards(s.page)).toBe('app');
    expect((await request.redeem(s.page.url())).claims()).toMatchObject({ email: 'frank@saml.test', amr: ['fed'], roles: ['partner'] });
    expect(pageErrors(s)).toEqual([]);
  }, 60_000);

  test('corp.example → the password step; the directory password signs in', async () => {
    const s = await session('ldap');
    const request = await authorize();
    await giveEmail(s.page, request.url, 'ada@corp.example');
    await s.page.locator('#password').waitFor();
    expect(await s.page.inputValue('#email')).toBe('ada@corp.example');
    // The directory's password: a forgotten one is the directory's to reset, not Vigil's.
    expect(await s.page.textContent('#directory-password')).toBe('Use your Corp directory password. If you forgot it, ask the people who run Corp directory.');
    expect(await s.page.locator('#forgot-password').count()).toBe(0);
    await s.shot('directory-password');
    await s.page.fill('#password', 'analytical-engine');
    await s.page.click('#sign-in');
    expect(await onwards(s.page)).toBe('app');
    expect((await request.redeem(s.page.url())).claims()).toMatchObject({ email: 'ada@corp.example', roles: ['directory'] });
    expect(pageErrors(s)).toEqual([]);
  }, 60_000);

  test('the CLI lists the three new accounts with their provider\'s default roles', async () => {
    const accounts = await vigilCli<{ email: string; roles: string[] }[]>(stack.env, ['user', 'list']);
    const roles = Object.fromEntries(accounts.map((a) => [a.email, a.roles]));
    expect(roles).toMatchObject({ 'grace@corp.test': ['staff'], 'frank@saml.test': ['partner'], 'ada@corp.example': ['directory'] });
  }, 30_000);
});

test('an existing account is linked only with its own password: a wrong one and Cancel link nothing', async () => {
  const s = await session('link');
  let request = await authorize();
  await giveEmail(s.page, request.url, 'bob@corp.test');
  await upstreamSignIn(s.page, 'bob@corp.test');
  expect(await onwards(s.page, '#link-explanation')).toBe('stop');
  expect(await s.page.textContent('#link-explanation')).toMatch(/bob@corp\.test exists already.*prove it is yours/);
  await s.shot('prove-it');
  expect(await linkOf('corp', 'bob@corp.test')).toEqual([]);

  await s.page.fill('#password', 'not the password 123');
  await s.page.click('#prove-password');
  await s.page.locator('#error').waitFor();
  expect(await s.page.textContent('#error')).toBe('The password is not correct.');
  expect(await linkOf('corp', 'bob@corp.test')).toEqual([]);

  await s.page.click('#cancel');
  await s.page.waitForURL(atApp);
  expect(new URL(s.page.url()).searchParams.get('error')).toBe('access_denied');
  expect(await linkOf('corp', 'bob@corp.test')).toEqual([]);

  // Again (the upstream remembers Bob): the right password links and signs in.
  request = await authorize();
  await giveEmail(s.page, request.url, 'bob@corp.test');
  expect(await onwards(s.page, '#link-explanation')).toBe('stop');
  await s.page.fill('#password', BOB_PASSWORD);
  await s.page.click('#prove-password');
  expect(await onwards(s.page)).toBe('app');
  expect((await request.redeem(s.page.url())).claims()).toMatchObject({ email: 'bob@corp.test' });
  expect(await linkOf('corp', 'bob@corp.test')).toEqual([{ provisioned: false }]);
  expect(pageErrors(s)).toEqual([]);
}, 60_000);

describe('an app asking for 2fa', () => {
  let totp: Authenticator;

  beforeAll(async () => {
    const core = await openCore(loadConfig(stack.env, ROOT), createLogger('silent'));
    try {
      const account = (await db.query("SELECT id FROM accounts WHERE email = 'grace@corp.test'")).rows[0] as { id: string };
      totp = await enrolTotp(core, account.id);
    } finally {
      await core.close();
    }
  }, 60_000);

  test('through the trusted provider the upstream\'s sign-in is enough: no factor page of Vigil\'s', async () => {
    const s = await session('acr-trusted');
    const request = await authorize({ acr_values: TWO_FA });
    await s.page.goto(request.url);
    await s.page.click('#provider-trusted');
    await upstreamSignIn(s.page, 'erin@corp.test', false);
    expect(await onwards(s.page, '#totp-code, #factor-missing')).toBe('app');
    expect((await request.redeem(s.page.url())).claims()!.acr).toBe(TWO_FA);
    expect(pageErrors(s)).toEqual([]);
  }, 60_000);

  test('through the untrusted provider Vigil asks its own second factor', async () => {
    const s = await session('acr-untrusted');
    const request = await authorize({ acr_values: TWO_FA });
    await giveEmail(s.page, request.url, 'grace@corp.test');
    await upstreamSignIn(s.page, 'grace@corp.test');
    expect(await onwards(s.page, '#totp-code')).toBe('stop');
    await s.shot('vigil-second-factor');
    await s.page.fill('#totp-code', await totp.next());
    await s.page.click('#verify-totp');
    expect(await onwards(s.page)).toBe('app');
    const claims = (await request.redeem(s.page.url())).claims()!;
    expect(claims.acr).toBe(TWO_FA);
    expect(claims.amr).toEqual(expect.arrayContaining(['fed', 'otp']));
    expect(pageErrors(s)).toEqual([]);
  }, 60_000);
});

test('a CAEP session-revoked from the upstream: the app\'s refresh fails, the browser is asked to sign in again', async () => {
  // The app's refresh works until the event.
  const refreshed = await oidc.refreshTokenGrant(graceConfig, graceTokens.refresh_token!);
  const set = await sessionRevokedSet(setKeys.privateKey, 'up', upstream.vigil.issuer, stack.vigil.issuer, upstreamIds['grace@corp.test']);
  const res = await fetch(`${stack.vigil.issuer}/ssf/receive`, { method: 'POST', headers: { 'content-type': 'application/secevent+jwt' }, body: set });
  expect(res.status).toBe(202);
  await expect(oidc.refreshTokenGrant(graceConfig, refreshed.refresh_token!)).rejects.toMatchObject({ error: 'invalid_grant' });
  // No silent sign-in any more: the same browser gets Vigil's sign-in page.
  const again = await pkceAuthorization(graceConfig, { redirect_uri: stack.redirectUri, scope: 'openid email' });
  await grace.page.goto(again.url);
  await grace.page.locator('#continue').waitFor();
  expect(grace.page.url()).toContain(stack.vigil.issuer);
  expect(pageErrors(grace)).toEqual([]);
}, 60_000);

test('the directory down: its people read that it is unreachable; a local account still signs in in the same browser', async () => {
  await slapd.kill();
  const s = await session('directory-down');
  let request = await authorize();
  await giveEmail(s.page, request.url, 'ada@corp.example');
  await s.page.locator('#password').waitFor();
  await s.page.fill('#password', 'analytical-engine');
  await s.page.click('#sign-in');
  await s.page.locator('#error').waitFor();
  expect(await s.page.textContent('#error')).toBe('Corp directory cannot be reached at the moment. Try again in a few minutes.');
  await s.shot('directory-unreachable');

  request = await authorize();
  await giveEmail(s.page, request.url, LOCAL.email);
  await s.page.locator('#password').waitFor();
  await s.page.fill('#password', LOCAL.password);
  await s.page.click('#sign-in');
  expect(await onwards(s.page)).toBe('app');
  expect((await request.redeem(s.page.url())).claims()).toMatchObject({ email: LOCAL.email });
  expect(pageErrors(s)).toEqual([]);
}, 60_000);
