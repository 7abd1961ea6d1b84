/**
 * Issue 18: a person who enrols only a passkey gets recovery codes too, so that losing the passkey
 * does not lock them out.
 *
 * In Chromium with its virtual authenticator, on the real pages: a person with no second factor
 * adds a passkey on /account and is shown 10 recovery codes, once (not in the passkey script's
 * JSON answer, not in a URL, not in the audit trail). From a browser without the passkey, password
 * + one of those codes then signs in to an application asking for acr 2fa. A second passkey issues
 * no new codes. Removing the authenticator app keeps the codes while a passkey remains; removing
 * the last passkey, with no app left, clears them (codes alone are no second factor).
 *
 * WebAuthn refuses IP addresses as RP IDs, so the issuer and every page are http://localhost.
 */
import { createServer, type Server } from 'node:http';
import pg from 'pg';
import type { Browser as Chromium } from 'playwright-core';
import { freePort, vigilCli } from '../support/vigil-process.ts';
import { discover, pkceAuthorization, startStack, type ClientOut, type Stack } from '../support/stack.ts';
import { launchChromium, openBrowserSession, untilRelyingParty, type BrowserSession, type VirtualCredential } from '../support/chromium.ts';
import { Authenticator } from '../support/authenticator.ts';

const PASSWORD = 'correct horse battery staple 9';
const EMAIL = 'rita@vigil.test';
const TWO = 'urn:vigil:acr:2fa';
const TEST_TIMEOUT = 90_000;

let chromium: Chromium;
let stack: Stack;
let origin: string;
let rp: Server;
let redirectUri: string;
let web: ClientOut;
let ritaId: string;

/** Rita's browser with her passkeys; kept across the steps (each step needs what the one before did). */
let s: BrowserSession;
let firstCodes: string[] = [];
let firstPasskey: VirtualCredential;

const atRp = (url: URL) => url.href.startsWith(redirectUri);

async function auditEntries(action: string): Promise<Array<{ outcome: string; details: Record<string, any> }>> {
  const c = new pg.Client({ connectionString: stack.db.url });
  await c.connect();
  try {
    const { rows } = await c.query('SELECT outcome, details FROM audit_log WHERE action = $1 AND (subject = $2 OR actor = $2) ORDER BY seq', [action, ritaId]);
    return rows;
  } finally {
    await c.end();
  }
}

/** Every audit entry about Rita, as text: no recovery code may appear in it. */
async function auditText(): Promise<string> {
  const c = new pg.Client({ connectionString: stack.db.url });
  await c.connect();
  try {
    const { rows } = await c.query('SELECT * FROM audit_log WHERE subject = $1 OR actor = $1', [ritaId]);
    return JSON.stringify(rows);
  } finally {
    await c.end();
  }
}

async function enterPassword(b: BrowserSession) {
  await b.page.locator('#email').waitFor();
  await b.page.fill('#email', EMAIL);
  await b.page.fill('#password', PASSWORD);
  await b.page.click('#sign-in');
}

const shownCodes = async (b: BrowserSession) => (await b.page.locator('#recovery-codes li').allTextContents()).map((c) => c.trim());

/**
 * A browser holding no passkey: an application asks for acr 2fa, the person gives the password,
 * then `code` on the factor page. The claims of the ID token, or undefined when the code is not
 * offered at all.
 */
async function passwordAndRecoveryCode(test: string, code: string) {
  const b = await openBrowserSession(chromium, `account-passkey-recovery-${test}`);
  try {
    const request = await pkceAuthorization(await discover(origin, web), { redirect_uri: redirectUri, scope: 'openid', acr_values: TWO });
    await b.page.goto(request.url);
    await enterPassword(b);
    await b.page.locator('h1', { hasText: 'Second step' }).waitFor();
    await b.shot('factor-page');
    if (await b.page.locator('#recovery-section').count() === 0) return undefined;
    await b.page.click('#recovery-section summary');
    await b.page.fill('#recovery-code', code);
    await b.page.click('#verify-recovery');
    await untilRelyingParty(b.page, redirectUri);
    const tokens = await request.redeem(b.page.url());
    return tokens.claims()!;
  } finally {
    await b.close();
  }
}

beforeAll(async () => {
  const port = await freePort();
  redirectUri = `http://localhost:${port}/cb`;
  rp = createServer((_req, res) => res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8' }).end('relying party: ok'));
  await new Promise<void>((resolve) => rp.listen(port, '127.0.0.1', resolve));
  await Promise.all([
    launchChromium().then((b) => { chromium = b; }),
    startStack({}, { issuerHost: 'localhost' }).then((st) => { stack = st; }),
  ]);
  origin = stack.vigil.issuer;
  ritaId = (await vigilCli<{ id: string }>(stack.env, ['user', 'create', '--email', EMAIL, '--password', PASSWORD])).id;
  web = await vigilCli<ClientOut>(stack.env, ['client', 'create', '--name', 'Web App', '--redirect-uri', redirectUri]);
  s = await openBrowserSession(chromium, 'account-passkey-recovery');
}, 120_000);

afterAll(async () => {
  await s?.close();
  await chromium?.close();
  await stack?.stop();
  await new Promise((resolve) => rp?.close(resolve));
}, 60_000);

test('the first passkey comes with 10 recovery codes, shown once on the account page and nowhere else', async () => {
  await s.page.goto(`${origin}/account`);
  await enterPassword(s);
  await s.page.locator('#account-email').waitFor();
  expect(await s.page.textContent('#recovery-status')).toMatch(/come with your first passkey/);

  // What the passkey script is answered (read before the page leaves it).
  let answer = '';
  await s.page.route('**/account/passkeys/verify', async (route) => {
    const response = await route.fetch();
    answer = await response.text();
    await route.fulfill({ response });
  });
  await s.page.fill('#passkey-name', 'Rita laptop');
  await s.page.click('#add-passkey');
  await s.page.locator('#passkeys').waitFor();
  expect(await s.page.textContent('#notice')).toBe('Passkey added.');
  await s.page.locator('#new-recovery-codes #recovery-codes li').first().waitFor();
  firstCodes = await shownCodes(s);
  await s.shot('first-passkey-with-codes');
  expect(firstCodes).toHaveLength(10);
  expect(new Set(firstCodes).size).toBe(10);
  for (const code of firstCodes) expect(code).toMatch(/^[a-z2-9]{5}-[a-z2-9]{5}$/);
  expect(await s.page.textContent('#recovery-status')).toMatch(/^10 recovery codes left/);

  // Shown once: not in the script's JSON answer, not in the URL, gone on the next visit, not audited.
  await s.page.unroute('**/account/passkeys/verify');
  expect(JSON.parse(answer)).toEqual({ redirect: '/account?done=passkey' });
  for (const code of firstCodes) expect(s.page.url()).not.toContain(code);
  await s.page.reload();
  await s.page.locator('#passkeys').waitFor();
  expect(await s.page.locator('#recovery-codes').count()).toBe(0);
  expect(await s.page.textContent('#recovery-status')).toMatch(/^10 recovery codes left/);
  const [registered] = await auditEntries('mfa.passkey_registered');
  expect(registered).toMatchObject({ outcome: 'success', details: { name: 'Rita laptop', recoveryCodesIssued: 10 } });
  const audit = await auditText();
  for (const code of firstCodes) {
    expect(audit).not.toContain(code);
    expect(audit).not.toContain(code.replace('-', ''));
  }
  [firstPasskey] = await s.authenticator.credentials();
  expect(firstPasskey).toBeDefined();
}, TEST_TIMEOUT);

test('without the passkey, password + one of those codes signs in at acr 2fa', async () => {
  const claims = await passwordAndRecoveryCode('code-for-2fa', firstCodes[0]);
  expect(claims).toBeDefined();
  expect(claims!.sub).toBe(ritaId);
  expect(claims!.acr).toBe(TWO);
  expect(claims!.amr).toEqual(expect.arrayContaining(['pwd', 'otp', 'mfa']));
  expect(claims!.amr).not.toContain('hwk');
  expect(claims!.amr).not.toContain('swk');
}, TEST_TIMEOUT);

test('a second passkey issues no new codes', async () => {
  await s.page.goto(`${origin}/account`);
  // The sign-in was a password only and the account now has a factor: the passkey is asked first.
  await s.page.click('#add-passkey');
  await s.page.locator('#use-passkey').waitFor();
  await s.page.click('#use-passkey');
  await s.page.locator('#notice', { hasText: 'You confirmed it is you' }).waitFor();
  // The authenticator would refuse a second credential for an account it already holds one of.
  await s.authenticator.removeCredential(firstPasskey.credentialId);
  await s.page.fill('#passkey-name', 'Rita phone');
  await s.page.click('#add-passkey');
  await s.page.locator('#notice', { hasText: 'Passkey added.' }).waitFor();
  await s.shot('second-passkey');
  expect(await s.page.locator('#passkeys tbody tr').count()).toBe(2);
  expect(await s.page.locator('#recovery-codes').count()).toBe(0);
  expect(await s.page.textContent('#recovery-status')).toMatch(/^9 recovery codes left/);
  const entries = await auditEntries('mfa.passkey_registered');
  expect(entries.map((e) => e.details.recoveryCodesIssued)).toEqual([10, 0]);
}, TEST_TIMEOUT);

test('removing the authenticator app keeps the codes while a passkey remains', async () => {
  await s.page.click('#setup-totp');
  await s.page.locator('#totp-secret').waitFor();
  const app = new Authenticator((await s.page.textContent('#totp-secret'))!.replace(/\s/g, ''));
  await s.page.fill('#totp-code', await app.next());
  await s.page.click('#confirm-totp');
  await s.page.locator('#recovery-codes li').first().waitFor();
  const appCodes = await shownCodes(s);
  expect(appCodes).toHaveLength(10);
  await s.page.click('#back-to-account');
  await s.page.click('#remove-totp');
  await s.page.locator('#totp-status', { hasText: 'Not set up' }).waitFor();
  await s.shot('app-removed');
  expect(await s.page.textContent('#recovery-status')).toMatch(/^10 recovery codes left/);
  const [removed] = await auditEntries('mfa.totp_removed');
  expect(removed.details.recoveryCodesCleared).toBe(0);

  const claims = await passwordAndRecoveryCode('code-after-app-removed', appCodes[3]);
  expect(claims?.acr).toBe(TWO);
  firstCodes = appCodes;
}, TEST_TIMEOUT);

test('removing the last passkey, with no app left, clears the codes: they are no factor on their own', async () => {
  await s.page.goto(`${origin}/account`);
  await s.page.click('#passkeys button[aria-label="Remove passkey Rita phone"]');
  await s.page.locator('#passkeys tbody tr').first().waitFor();
  expect(await s.page.locator('#passkeys tbody tr').count()).toBe(1);
  expect(await s.page.textContent('#recovery-status')).toMatch(/^9 recovery codes left/);

  await s.page.click('#passkeys button[aria-label="Remove passkey Rita laptop"]');
  await s.page.locator('#no-passkeys').waitFor();
  await s.shot('last-passkey-removed');
  expect(await s.page.textContent('#recovery-status')).toMatch(/come with your first passkey/);
  expect(await s.page.locator('#regenerate-recovery').count()).toBe(0);
  const removals = await auditEntries('mfa.passkey_removed');
  expect(removals.map((e) => e.details.recoveryCodesCleared)).toEqual([0, 9]);

  // A code left over no longer signs in: the factor page offers none.
  expect(await passwordAndRecoveryCode('code-after-last-passkey', firstCodes[5])).toBeUndefined();
  expect(s.errors.filter((e) => /content security policy/i.test(e))).toEqual([]);
}, TEST_TIMEOUT);
