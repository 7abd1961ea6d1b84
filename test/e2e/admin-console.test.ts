/**
 * The admin console in a real browser, on two Vigil instances sharing Postgres, Redis and the
 * master key (one deployment behind a load balancer). Chromium's virtual authenticator gives the
 * administrator and the auditor their passkeys; a relying party on 127.0.0.1 signs a person in,
 * refreshes, and receives back-channel logout tokens.
 *
 * WebAuthn refuses IP addresses as RP IDs, so the issuer and every console page are http://localhost.
 */
import { createServer, type Server } from 'node:http';
import * as oidc from 'openid-client';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import type { Browser, Page } from 'playwright-core';
import { freePort, vigilCli, type VigilProcess } from '../support/vigil-process.ts';
import { ADMIN, discover, insecure, startStack, type ClientOut, type Stack } from '../support/stack.ts';
import {
  launchChromium, openBrowserSession, type BrowserSession, type VirtualCredential,
} from '../support/chromium.ts';
import {
  enterPassword, registerPasskey as registerPasskeyThere, rpSignIn as rpSignInThere, stepUpIntoConsole as stepUpThere,
} from '../support/admin-console.ts';

const PASSWORD = 'correct horse battery staple 9';
const TEST_TIMEOUT = 90_000;
const BACKCHANNEL_EVENT = 'http://schemas.openid.net/event/backchannel-logout';

let browser: Browser;
let stack: Stack;
let a: VigilProcess;
let b: VigilProcess;
let origin: string;
let rp: Server;
let rpPort: number;
let web: ClientOut;
let introspector: ClientOut;
const ids: Record<string, string> = {};
/** Back-channel logout tokens the relying party received, with when. */
const logoutTokens: { token: string; at: number }[] = [];
/** Every console error of every page, for the CSP check. */
const consoleErrors: string[] = [];
/** Passkeys as each person's authenticator last knew them. */
const passkeys: Record<string, VirtualCredential> = {};

const redirectUri = () => `http://localhost:${rpPort}/cb`;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const cspErrors = (errors: string[]) => errors.filter((e) => /content security policy|content-security-policy/i.test(e));

type Session = BrowserSession;

const openSession = (test: string, credential?: VirtualCredential): Promise<Session> =>
  openBrowserSession(browser, `admin-console-${test}`, { ...(credential ? { credential } : {}), afterClose: (errors) => consoleErrors.push(...errors) });

/** Password sign-in on /account, then a passkey added there; the passkey is kept for later sessions. */
async function registerPasskey(s: Session, email: string, password = PASSWORD) {
  passkeys[email] = await registerPasskeyThere(s, origin, email, password);
}

const stepUpIntoConsole = (s: Session, path = '/admin', ready = '#console-user') => stepUpThere(s, origin, path, ready);

/** The relying party's side: a person signs in (password) and gets tokens with a refresh token. */
const rpSignIn = (email: string) => rpSignInThere(a.issuer, web, redirectUri(), email, PASSWORD);

/** Introspection on the second instance. */
async function introspectOnB(token: string) {
  const toB: oidc.CustomFetch = (url, options) => fetch(url.startsWith(a.issuer) ? `${b.url}${url.slice(a.issuer.length)}` : url, options as RequestInit);
  const config = await discover(a.issuer, introspector, { ...insecure, [oidc.customFetch]: toB });
  return oidc.tokenIntrospection(config, token);
}

/** The uid of the (only) session of `email` as the sessions page lists it. */
async function sessionUidOf(page: Page, email: string): Promise<string> {
  const row = page.locator('#sessions tbody tr', { hasText: email });
  await expect(row.count()).resolves.toBe(1);
  return (await row.getAttribute('data-session-uid'))!;
}

/** A POST from inside the console page (same origin, the browser's own Origin header), as a forger with a page would. */
function postFromPage(page: Page, path: string, fields: Record<string, string>) {
  return page.evaluate(async ({ path, fields }) => {
    const response = await fetch(path, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'text/html' }, body: new URLSearchParams(fields).toString(), redirect: 'manual' });
    return { status: response.status, text: await response.text() };
  }, { path, fields });
}

let admin: Session;
let revokedUid = '';
let frankUid = '';

beforeAll(async () => {
  rpPort = await freePort();
  rp = createServer((req, res) => {
    if (req.method === 'POST' && req.url === '/backchannel') {
      let body = '';
      req.on('data', (c) => { body += c; });
      req.on('end', () => {
        const token = new URLSearchParams(body).get('logout_token');
        if (token) logoutTokens.push({ token, at: Date.now() });
        res.writeHead(token ? 200 : 400, { 'cache-control': 'no-store' }).end();
      });
      return;
    }
    res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8' }).end('relying party: ok');
  });
  // Every address of the machine: "localhost" may resolve to ::1 or 127.0.0.1.
  await new Promise<void>((resolve) => rp.listen(rpPort, resolve));
  await Promise.all([
    launchChromium().then((x) => { browser = x; }),
    startStack({ VIGIL_ALLOWED_OUTGOING_HOSTS: `localhost:${rpPort}` }, { issuerHost: 'localhost', instances: 2 }).then((x) => { stack = x; }),
  ]);
  [a, b] = stack.instances;
  origin = a.issuer;
  const { env } = stack;
  const people = await Promise.all([
    vigilCli<{ id: string }>(env, ['user', 'create', '--email', 'audrey@vigil.test', '--password', PASSWORD, '--name', 'Audrey', '--role', 'auditor']),
    vigilCli<{ id: string }>(env, ['user', 'create', '--email', 'carol@vigil.test', '--password', PASSWORD, '--name', 'Carol']),
    vigilCli<{ id: string }>(env, ['user', 'create', '--email', 'eve@vigil.test', '--password', PASSWORD, '--name', 'Eve']),
    vigilCli<{ id: string }>(env, ['user', 'create', '--email', 'frank@vigil.test', '--password', PASSWORD, '--name', 'Frank']),
  ]);
  [ids.audrey, ids.carol, ids.eve, ids.frank] = people.map((p) => p.id);
  web = await vigilCli(env, ['client', 'create', '--name', 'Relying Party', '--redirect-uri', redirectUri(), '--backchannel-logout-uri', `http://localhost:${rpPort}/backchannel`]);
  introspector = await vigilCli(env, ['client', 'create', '--name', 'Token checker', '--grant-type', 'client_credentials', '--introspect-any']);
}, 120_000);

afterAll(async () => {
  await admin?.close();
  await browser?.close();
  await stack?.stop();
  await new Promise((resolve) => rp?.close(resolve));
}, 60_000);

test('1. an administrator registers a passkey, then signs in to /admin with it (passkey step only)', async () => {
  admin = await openSession('1-admin');
  await registerPasskey(admin, ADMIN.email, ADMIN.password);
  await stepUpIntoConsole(admin);
  await admin.page.locator('#console-user').waitFor();
  expect(await admin.page.textContent('#console-user')).toBe(ADMIN.email);
  expect(await admin.page.textContent('#console-role')).toBe('admin');
  expect(await admin.page.textContent('h1')).toBe('Overview');
  await admin.page.locator('#metric-active-sessions').waitFor();
  await admin.shot('overview');
}, TEST_TIMEOUT);

test('2. a password-only sign-in to /admin is sent to the passkey step, never into the console', async () => {
  const s = await openSession('2-one-factor', passkeys[ADMIN.email]);
  await s.page.goto(`${origin}/admin`);
  await enterPassword(s, ADMIN.email, ADMIN.password);
  await s.page.locator('#use-passkey').waitFor();
  expect(new URL(s.page.url()).pathname).toMatch(/^\/interaction\//);
  expect(await s.page.locator('#console-user').count()).toBe(0);
  await s.shot('passkey-step-after-password');
  // A password alone makes no session: a console page asked for directly starts a sign-in again.
  await s.page.goto(`${origin}/admin/sessions`);
  await s.page.locator('#email').waitFor();
  expect(new URL(s.page.url()).pathname).toMatch(/^\/interaction\//);
  expect(await s.page.locator('#console-user').count()).toBe(0);
  await s.close();
}, TEST_TIMEOUT);

test('3. a person with neither role gets a readable 403 page after signing in with a passkey', async () => {
  const s = await openSession('3-no-role');
  await registerPasskey(s, 'carol@vigil.test');
  await stepUpIntoConsole(s, '/admin', '#refusal');
  expect((await s.page.reload())!.status()).toBe(403);
  expect(await s.page.textContent('#refusal')).toMatch(/neither the admin nor the auditor role/);
  expect(await s.page.locator('nav').count()).toBe(0);
  await s.shot('forbidden');
  const direct = await s.page.goto(`${origin}/admin/audit`);
  expect(direct!.status()).toBe(403);
  await s.close();
}, TEST_TIMEOUT);

test('4. the admin revokes a session with confirmation: within a second the RP refresh fails, B says inactive, the RP gets a verified logout token, and the open sessions page drops the row live', async () => {
  const eve = await rpSignIn('eve@vigil.test');
  expect(eve.tokens.refresh_token).toBeTruthy();
  expect(eve.tokens.access_token.split('.')).toHaveLength(1);
  expect(eve.claims.sid).toBeTruthy();
  expect((await introspectOnB(eve.tokens.access_token)).active).toBe(true);
  // The refresh works before the revocation (the RP keeps the rotated token).
  const refreshed = await oidc.refreshTokenGrant(eve.config, eve.tokens.refresh_token!);
  const refreshToken = refreshed.refresh_token!;
  const accessToken = refreshed.access_token;

  // One tab watches the live list; another revokes.
  const watcher = admin.page;
  await watcher.goto(`${origin}/admin/sessions`);
  await watcher.locator('body[data-live="connected"]').waitFor({ state: 'attached' });
  revokedUid = await sessionUidOf(watcher, 'eve@vigil.test');
  // The relying party by its name, not its id; the administrator's own session marked.
  expect(await watcher.textContent(`tr[data-session-uid="${revokedUid}"] .client`)).toBe('Relying Party');
  await expect(watcher.locator('#sessions tr.own-session').count()).resolves.toBe(1);
  expect(await watcher.textContent('#sessions tr.own-session')).toContain(ADMIN.email);
  expect(await watcher.textContent('#sessions tr.own-session .own-session-mark')).toBe('(your session)');
  await watcher.evaluate(() => { (window as unknown as { notReloaded: boolean }).notReloaded = true; });
  await admin.shot('sessions', watcher);

  const actor = await admin.context.newPage();
  await actor.goto(`${origin}/admin/sessions`);
  await actor.locator(`tr[data-session-uid="${revokedUid}"] a[data-action="revoke-session"]`).click();
  await actor.locator('#confirm').waitFor();
  expect(await actor.textContent('#confirm-summary')).toContain('eve@vigil.test');
  expect(await actor.textContent('#confirm-summary')).toContain('(Relying Party)');
  await admin.shot('confirm-revoke', actor);
  await actor.fill('#reason', 'stolen laptop reported');
  // The confirmation is keyboard-usable: focus the button and press Enter.
  await actor.focus('#confirm');
  const logoutsBefore = logoutTokens.length;
  await Promise.all([actor.waitForURL((u) => u.pathname === '/admin/sessions' && u.searchParams.get('done') === 'session-revoked'), actor.keyboard.press('Enter')]);
  const revokedAt = Date.now();
  await admin.shot('after-revoke', actor);
  expect(await actor.textContent('#notice')).toMatch(/revoked/);
  expect(await actor.locator(`tr[data-session-uid="${revokedUid}"]`).count()).toBe(0);

  const [refresh, introspection] = await Promise.all([
    oidc.refreshTokenGrant(eve.config, refreshToken).then(() => 'refreshed', (err: { error?: string }) => err.error),
    introspectOnB(accessToken),
  ]);
  expect(refresh).toBe('invalid_grant');
  expect(introspection.active).toBe(false);
  while (logoutTokens.length === logoutsBefore && Date.now() - revokedAt < 1000) await sleep(20);
  const checkedWithin = Date.now() - revokedAt;
  expect(logoutTokens.length).toBeGreaterThan(logoutsBefore);
  expect(logoutTokens[logoutsBefore].at - revokedAt).toBeLessThan(1000);
  expect(checkedWithin).toBeLessThan(1000);

  const jwks = createRemoteJWKSet(new URL(`${a.url}/jwks`));
  const { payload, protectedHeader } = await jwtVerify(logoutTokens[logoutsBefore].token, jwks, { issuer: a.issuer, audience: web.client_id });
  expect(protectedHeader.typ).toBe('logout+jwt');
  expect(payload.sub).toBe(ids.eve);
  expect(payload.sid).toBe(eve.claims.sid);
  expect(payload.events).toEqual({ [BACKCHANNEL_EVENT]: {} });
  expect(payload.nonce).toBeUndefined();

  // The watching tab dropped the row without a reload.
  await watcher.locator(`tr[data-session-uid="${revokedUid}"]`).waitFor({ state: 'detached', timeout: 2000 });
  expect(await watcher.evaluate(() => (window as unknown as { notReloaded?: boolean }).notReloaded)).toBe(true);
  expect(await watcher.textContent('#live-status')).toMatch(/1 session\(s\) of eve@vigil\.test ended/);
  await admin.shot('sessions-live-updated', watcher);
  await actor.close();
}, TEST_TIMEOUT);

test('5. an auditor sees everything but no action buttons, and a forged revoke from the auditor is refused 403', async () => {
  await rpSignIn('frank@vigil.test');
  const s = await openSession('5-auditor');
  await registerPasskey(s, 'audrey@vigil.test');
  await stepUpIntoConsole(s, '/admin/sessions');
  await s.page.locator('#sessions').waitFor();
  expect(await s.page.textContent('#console-role')).toBe('auditor');
  frankUid = await sessionUidOf(s.page, 'frank@vigil.test');
  expect(await s.page.locator('[data-action="revoke-session"]').count()).toBe(0);
  expect(await s.page.locator('main a.button, main button.danger').count()).toBe(0);
  await s.shot('sessions');
  await s.page.goto(`${origin}/admin/accounts/${ids.frank}`);
  await s.page.locator('#account-facts').waitFor();
  expect(await s.page.locator('#revoke-all, #disable-account').count()).toBe(0);
  await s.shot('account');
  await s.page.goto(`${origin}/admin/clients`);
  expect(await s.page.locator('#clients a.button').count()).toBe(0);

  // The auditor's own valid CSRF token, from the page's sign-out form, and the console's own origin.
  const csrf = await s.page.getAttribute('input[name="csrf"]', 'value');
  const forged = await postFromPage(s.page, `/admin/sessions/${frankUid}/revoke`, { csrf: csrf!, reason: 'auditor tries' });
  expect(forged.status).toBe(403);
  expect(forged.text).toMatch(/Auditors can look but not change anything/);
  const confirmPage = await s.page.goto(`${origin}/admin/sessions/${frankUid}/revoke`);
  expect(confirmPage!.status()).toBe(403);
  await s.shot('refused');
  await s.close();
  const stillThere = await admin.page.goto(`${origin}/admin/sessions/${frankUid}`);
  expect(stillThere!.status()).toBe(200);
}, TEST_TIMEOUT);

test('6. a POST without or with a wrong CSRF token, or from a foreign origin, is refused 403', async () => {
  const page = admin.page;
  await page.goto(`${origin}/admin/sessions`);
  const csrf = (await page.getAttribute('input[name="csrf"]', 'value'))!;
  const path = `/admin/sessions/${frankUid}/revoke`;

  const without = await postFromPage(page, path, { reason: 'no token' });
  expect(without.status).toBe(403);
  expect(without.text).toMatch(/This form has expired/);
  const wrong = await postFromPage(page, path, { csrf: `${csrf.slice(0, -2)}xx`, reason: 'wrong token' });
  expect(wrong.status).toBe(403);
  const foreign = await admin.context.request.post(`${origin}${path}`, {
    headers: { origin: 'http://evil.example', accept: 'text/html' }, form: { csrf, reason: 'cross-site' }, maxRedirects: 0,
  });
  expect(foreign.status()).toBe(403);
  expect(await foreign.text()).toMatch(/sent from another site/);
  const noOrigin = await admin.context.request.post(`${origin}${path}`, { headers: { accept: 'text/html' }, form: { csrf, reason: 'no origin' }, maxRedirects: 0 });
  expect(noOrigin.status()).toBe(403);

  // Nothing was revoked.
  await page.goto(`${origin}/admin/sessions`);
  await expect(page.locator(`tr[data-session-uid="${frankUid}"]`).count()).resolves.toBe(1);
  await page.goto(`${origin}/admin/sessions?country=XYZ`);
  expect(await page.textContent('#refusal')).toMatch(/country is two letters/);
  await admin.shot('bad-filter');
}, TEST_TIMEOUT);

test('7. every console page renders (screenshots), filters and paging work', async () => {
  const page = admin.page;
  const visit = async (path: string, name: string, ready: string) => {
    const response = await page.goto(`${origin}${path}`);
    expect(response!.status()).toBe(200);
    await page.locator(ready).first().waitFor();
    await admin.shot(name);
  };
  await visit('/admin', 'overview-after', '#metric-revocations');
  expect(Number(await page.textContent('#metric-revocations'))).toBeGreaterThanOrEqual(1);
  await visit(`/admin/sessions?account=${encodeURIComponent('frank@vigil.test')}`, 'sessions-filtered', '#sessions');
  expect(await page.locator('#sessions tbody tr').count()).toBe(1);
  await visit(`/admin/sessions/${frankUid}`, 'session-detail', '#session-facts');
  await visit('/admin/accounts', 'accounts', '#accounts');
  await visit(`/admin/accounts/${ids.eve}`, 'account-eve', '#account-facts');
  await visit(`/admin/accounts/${ids.frank}/disable`, 'confirm-disable-account', '#confirm');
  await page.click('#cancel');
  await page.waitForURL((u) => u.pathname === `/admin/accounts/${ids.frank}`);
  await visit('/admin/clients', 'clients', '#clients');
  await visit(`/admin/clients/${web.client_id}/disable`, 'confirm-disable-client', '#confirm');
  await visit('/admin/audit', 'audit', '#audit');
  await visit('/admin/audit?action=revocation.', 'audit-filtered', '#audit');
  await visit(`/admin/audit?subject=${encodeURIComponent(revokedUid)}`, 'audit-by-subject', '#audit');
  await visit('/admin/audit?action=account.', 'audit-page-1', '#audit');
  const next = page.locator('#next-page');
  if (await next.count()) {
    await next.click();
    await page.locator('#audit').waitFor();
    await admin.shot('audit-page-2');
  }
  // Keyboard: the skip link is the first stop and leads to the content.
  await page.goto(`${origin}/admin`);
  await page.keyboard.press('Tab');
  expect(await page.evaluate(() => document.activeElement?.textContent)).toBe('Skip to content');
}, TEST_TIMEOUT);

test('no console page reported a Content Security Policy violation', async () => {
  consoleErrors.push(...admin.errors);
  expect(cspErrors(consoleErrors)).toEqual([]);
});
