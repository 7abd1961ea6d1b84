/**
 * The admin console as an administrator meets it (issue 18), in Chromium: names where ids were,
 * a readable audit page without the console's own page views, what a password-only administrator
 * is told, "never" for a session never refreshed, reasons or "no risk signals" beside a risk
 * level, the overview's revocations counting only those that ended something, the administrator's
 * own session marked with how each session signed in, and the accounts list's last sign-in and
 * factors. One Vigil instance; the issuer is http://localhost (WebAuthn refuses IP addresses).
 */
import type { Browser, Page } from 'playwright-core';
import { vigilCli } from '../support/vigil-process.ts';
import { ADMIN, type ClientOut, type Stack } from '../support/stack.ts';
import { openBrowserSession, type BrowserSession } from '../support/chromium.ts';
import { enterPassword, rpSignIn, startConsoleStack, stepUpIntoConsole, type ConsoleStack } from '../support/admin-console.ts';

const PASSWORD = 'correct horse battery staple 9';
const TEST_TIMEOUT = 90_000;
/** A time as ISO text (what the console must not show people). */
const ISO_TIME = /\d{4}-\d\d-\d\dT\d\d:\d\d/;

let consoleStack: ConsoleStack;
let browser: Browser;
let stack: Stack;
let origin: string;
let web: ClientOut;
let redirectUri: string;
let admin: BrowserSession;
const ids: Record<string, string> = {};
let danaUid = '';

const metric = async (page: Page, id: string) => {
  await page.goto(`${origin}/admin`);
  return Number(await page.textContent(`#${id}`));
};

beforeAll(async () => {
  consoleStack = await startConsoleStack('admin-console-ux-admin');
  ({ browser, stack, origin, web, redirectUri, admin } = consoleStack);
  const { env } = stack;
  const people = await Promise.all([
    vigilCli<{ id: string }>(env, ['user', 'create', '--email', 'pat@vigil.test', '--password', PASSWORD, '--name', 'Pat', '--role', 'admin']),
    vigilCli<{ id: string }>(env, ['user', 'create', '--email', 'dana@vigil.test', '--password', PASSWORD, '--name', 'Dana']),
    vigilCli<{ id: string }>(env, ['user', 'create', '--email', 'carol@vigil.test', '--password', PASSWORD, '--name', 'Carol']),
  ]);
  [ids.pat, ids.dana, ids.carol] = people.map((p) => p.id);
  // Dana signs in to the relying party once and never refreshes.
  const dana = await rpSignIn(origin, web, redirectUri, 'dana@vigil.test', PASSWORD);
  expect(dana.tokens.refresh_token).toBeTruthy();
}, 120_000);

afterAll(async () => {
  await consoleStack?.stop();
}, 60_000);

test('an administrator with only a password is told a passkey is needed, with a link to /account that works', async () => {
  const s = await openBrowserSession(browser, 'admin-console-ux-password-only');
  await s.page.goto(`${origin}/admin`);
  await enterPassword(s, 'pat@vigil.test', PASSWORD);
  await s.page.locator('#factor-missing').waitFor();
  await s.shot('passkey-needed');
  const text = await s.page.textContent('#factor-missing');
  expect(text).toMatch(/needs a passkey or security key/);
  expect(text).toMatch(/authenticator app is not enough/);
  expect(await s.page.getAttribute('#add-factor', 'href')).toBe('/account');
  const [response] = await Promise.all([s.page.waitForNavigation(), s.page.click('#add-factor')]);
  expect(response!.status()).toBe(200);
  await s.page.locator('#email, #account-email').first().waitFor();
  await s.close();
}, TEST_TIMEOUT);

test('"Back to the application" from the passkey notice is a readable page: what is missing, a link to /account, a way to try again', async () => {
  const s = await openBrowserSession(browser, 'admin-console-ux-back');
  await s.page.goto(`${origin}/admin`);
  await enterPassword(s, 'pat@vigil.test', PASSWORD);
  await s.page.locator('#factor-missing').waitFor();
  const [callback] = await Promise.all([s.page.waitForResponse((r) => new URL(r.url()).pathname === '/admin/callback'), s.page.click('#back')]);
  await s.page.locator('#not-signed-in').waitFor();
  await s.shot('back-to-the-application');
  expect(callback.status()).toBe(403);
  expect(await s.page.textContent('h1')).toBe('A stronger sign-in is needed');
  expect(await s.page.textContent('#not-signed-in')).toMatch(/admin console needs a passkey or security key/);
  expect(await s.page.textContent('#error-code')).toBe('unmet_authentication_requirements');
  expect(await s.page.getAttribute('#try-again', 'href')).toBe('/admin');
  expect(await s.page.getAttribute('#add-factor', 'href')).toBe('/account');
  expect(await s.page.content()).not.toMatch(/\bat .+\.ts:\d+/);
  const [account] = await Promise.all([s.page.waitForNavigation(), s.page.click('#add-factor')]);
  expect(account!.status()).toBe(200);
  await s.page.locator('#email, #account-email').first().waitFor();
  await s.close();
}, TEST_TIMEOUT);

test('a cancelled sign-in says so with a way back; a replayed or forged callback is still refused', async () => {
  const s = await openBrowserSession(browser, 'admin-console-ux-cancel');
  await s.page.goto(`${origin}/admin`);
  await s.page.locator('#email').waitFor();
  const [callback] = await Promise.all([s.page.waitForResponse((r) => new URL(r.url()).pathname === '/admin/callback'), s.page.click('#cancel')]);
  await s.page.locator('#not-signed-in').waitFor();
  await s.shot('sign-in-cancelled');
  expect(callback.status()).toBe(403);
  expect(await s.page.textContent('h1')).toBe('Sign-in cancelled');
  expect(await s.page.textContent('#not-signed-in')).toMatch(/cancelled .*so the admin console was not opened/);
  expect(await s.page.getAttribute('#try-again', 'href')).toBe('/admin');
  expect(await s.page.locator('#add-factor').count()).toBe(0);
  // The same callback again: its state was used up.
  const replayed = await s.page.goto(callback.url());
  expect(replayed!.status()).toBe(400);
  expect(await s.page.textContent('#error-code')).toBe('invalid_request');
  // A sign-in under way, and a callback whose state is not its own.
  await s.page.goto(`${origin}/admin`);
  await s.page.locator('#email').waitFor();
  const forged = await s.page.goto(`${origin}/admin/callback?error=access_denied&state=forged`);
  expect(forged!.status()).toBe(400);
  expect(await s.page.textContent('#error-code')).toBe('invalid_request');
  expect(await s.page.locator('#not-signed-in').count()).toBe(0);
  // "Try again" starts a new sign-in.
  await s.page.goto(`${origin}/admin`);
  await s.page.locator('#email').waitFor();
  await s.close();
}, TEST_TIMEOUT);

test('the sessions list: client names, "never" refreshed, reasons or "no risk signals", sign-in strength, the own session marked', async () => {
  const page = admin.page;
  await page.goto(`${origin}/admin/sessions`);
  const row = page.locator('#sessions tbody tr', { hasText: 'dana@vigil.test' });
  await expect(row.count()).resolves.toBe(1);
  danaUid = (await row.getAttribute('data-session-uid'))!;
  await admin.shot('sessions');
  expect(await row.locator('.client').textContent()).toBe('Relying Party');
  expect(await row.locator('.last-refresh-never').textContent()).toBe('never');
  expect(await row.locator('.strength').textContent()).toBe('password only');
  // Every risk level comes with its reasons or says there were none.
  for (const r of await page.locator('#sessions tbody tr').all()) {
    if (await r.locator('.risk').count()) expect(await r.locator('.reasons li, .no-signals').count()).toBeGreaterThan(0);
  }
  const own = page.locator('#sessions tr.own-session');
  await expect(own.count()).resolves.toBe(1);
  expect(await own.textContent()).toContain(ADMIN.email);
  expect(await own.locator('.own-session-mark').textContent()).toBe('(your session)');
  expect(await own.locator('.strength').textContent()).toBe('passkey');
}, TEST_TIMEOUT);

test('the session page, its risk history and the revoke confirmation name the client; times as everywhere else', async () => {
  const page = admin.page;
  await page.goto(`${origin}/admin/sessions/${danaUid}`);
  await admin.shot('session');
  expect(await page.textContent('#session-clients .client')).toBe('Relying Party');
  expect(await page.textContent('#session-last-refresh')).toBe('never');
  const history = page.locator('#risk-history tbody tr');
  expect(await history.count()).toBeGreaterThan(0);
  expect(await history.first().locator('.client').textContent()).toBe('Relying Party');
  expect(await history.first().locator('.reasons li, .no-signals').count()).toBeGreaterThan(0);

  await page.goto(`${origin}/admin/sessions/${danaUid}/revoke`);
  await admin.shot('confirm-revoke');
  expect(await page.textContent('#confirm-summary')).toContain('(Relying Party)');
  expect(await page.textContent('#confirm-summary')).not.toContain(web.client_id);
  const facts = (await page.textContent('#confirm-facts'))!;
  expect(facts).toMatch(/Last seen\d{4}-\d\d-\d\d \d\d:\d\d UTC/);
  expect(facts).not.toMatch(ISO_TIME);
}, TEST_TIMEOUT);

test('the overview counts only revocations that ended something', async () => {
  const page = admin.page;
  const before = await metric(page, 'metric-revocations');
  // Carol has no session: revoking "all" of them ends nothing.
  await page.goto(`${origin}/admin/accounts/${ids.carol}/revoke-sessions`);
  await Promise.all([page.waitForURL((u) => u.searchParams.get('done') === 'account-sessions-revoked'), page.click('#confirm')]);
  expect(await metric(page, 'metric-revocations')).toBe(before);
  // Dana's session ends: that one counts.
  await page.goto(`${origin}/admin/sessions/${danaUid}/revoke`);
  await Promise.all([page.waitForURL((u) => u.searchParams.get('done') === 'session-revoked'), page.click('#confirm')]);
  expect(await metric(page, 'metric-revocations')).toBe(before + 1);
}, TEST_TIMEOUT);

test('the audit page: names linked to their pages, details readable, page views hidden unless asked for', async () => {
  const page = admin.page;
  await page.goto(`${origin}/admin/audit`);
  await admin.shot('audit');
  expect(await page.locator('#audit tr[data-action="admin.console.call"]').count()).toBe(0);
  await page.locator('#page-views-hidden').waitFor();
  // The revocation of Carol's sessions: actor and subject by email, linked to their account pages.
  const revoked = page.locator('#audit tr[data-action="revocation.account"]').first();
  expect(await revoked.locator('.actor a').textContent()).toBe(ADMIN.email);
  expect(await revoked.locator('.subject a').textContent()).toBe('carol@vigil.test');
  expect(await revoked.locator('.subject a').getAttribute('href')).toBe(`/admin/accounts/${ids.carol}`);
  // Details as labelled lines, not a JSON dump.
  expect(await revoked.locator('dl.details dt', { hasText: 'reason' }).count()).toBe(1);
  expect(await revoked.locator('td.details-column').textContent()).not.toContain('{"');
  expect(await page.locator('#audit td.details-column', { hasText: '{"' }).count()).toBe(0);
  // A client as a subject: by its name, linked to its page.
  await page.goto(`${origin}/admin/audit?action=consent.granted`);
  const consent = page.locator('#audit tbody tr').first();
  expect(await consent.locator('.subject a').textContent()).toBe('Relying Party');
  expect(await consent.locator('.subject a').getAttribute('href')).toBe(`/admin/clients/${web.client_id}`);

  await page.check('#a-views');
  await page.fill('#a-action', '');
  await Promise.all([page.waitForURL((u) => u.searchParams.get('views') === '1'), page.click('#apply-audit-filter')]);
  await admin.shot('audit-with-page-views');
  expect(await page.locator('#audit tr[data-action="admin.console.call"]').count()).toBeGreaterThan(0);
  await page.goto(`${origin}/admin/audit?action=admin.console.call`);
  expect(await page.locator('#audit tr[data-action="admin.console.call"]').count()).toBeGreaterThan(0);
}, TEST_TIMEOUT);

test('the accounts list shows the last sign-in and the factors set up', async () => {
  const page = admin.page;
  await page.goto(`${origin}/admin/accounts`);
  await admin.shot('accounts');
  const rootRow = page.locator('#accounts tbody tr', { hasText: ADMIN.email });
  expect(await rootRow.locator('.factor-status').textContent()).toBe('1 passkey');
  expect(await rootRow.locator('.last-sign-in time').count()).toBe(1);
  const danaRow = page.locator('#accounts tbody tr', { hasText: 'dana@vigil.test' });
  expect(await danaRow.locator('.last-sign-in time').count()).toBe(1);
  expect((await danaRow.locator('.factor-status').textContent())!.trim()).toBe('no second factor');
  const carolRow = page.locator('#accounts tbody tr', { hasText: 'carol@vigil.test' });
  expect((await carolRow.locator('.last-sign-in').textContent())!.trim()).toBe('never');
}, TEST_TIMEOUT);
