/**
 * Issue 17, item 2: a password alone must never change a person's sign-in methods.
 *
 * With a second factor (here an authenticator app, then a passkey), a password-only sign-in to
 * /account can look but not add a passkey, remove the authenticator app or get new recovery codes:
 * each sends the person to prove the second factor first (a step-up of the same session), and
 * after that proof the change goes through. Without a second factor, a recent password adds the
 * first one, and the change is announced: an audit entry naming the password-only sign-in it was
 * made on, and a CAEP credential-change SET to the streams that follow the person.
 *
 * In Chromium with its virtual authenticator (the real pages and script), then the same over HTTP,
 * calling the endpoints directly as a script holding the stolen password would.
 *
 * WebAuthn refuses IP addresses as RP IDs, so the issuer is http://localhost.
 */
import pg from 'pg';
import type { Browser as Chromium } from 'playwright-core';
import { freePort, vigilCli, type VigilProcess } from '../support/vigil-process.ts';
import { discover, pkceAuthorization, startStack, type ClientOut, type Stack } from '../support/stack.ts';
import { Browser, formAction, hiddenField, signIn, type Page } from '../support/browserless.ts';
import { launchChromium, openBrowserSession, type BrowserSession } from '../support/chromium.ts';
import { SoftAuthenticator } from '../support/soft-authenticator.ts';
import { Authenticator, enrolmentKey } from '../support/authenticator.ts';
import { clientCredentialsToken, jsonCall } from '../support/json-api.ts';

const PASSWORD = 'correct horse battery staple 9';
const ONE = 'urn:vigil:acr:1fa';
const TWO = 'urn:vigil:acr:2fa';
const CREDENTIAL_CHANGE = 'https://schemas.openid.net/secevent/caep/event-type/credential-change';
const TEST_TIMEOUT = 90_000;
const email = (name: string) => `${name}@vigil.test`;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let chromium: Chromium;
let stack: Stack;
let vigil: VigilProcess;
let origin: string;
let redirectUri: string;
let rp: ClientOut;
let rpToken: string;
let streamId: string;
const ids: Record<string, string> = {};
const PEOPLE = ['tess', 'nina', 'hugo', 'pia'];

// ---------------------------------------------------------------------------------------------
// Over HTTP: the account page without a browser.

const isAccount = (page: Page) => page.body.includes('id="account-email"');

/** A password sign-in to /account in `browser` (no second factor asked: the page only looks). */
async function passwordToAccount(browser: Browser, name: string): Promise<Page> {
  let page = await browser.follow(`${origin}/account`);
  expect(page.body).toContain('name="password"');
  page = await browser.submit(page, formAction(page.body, '/login'), { csrf: hiddenField(page.body, 'csrf'), email: email(name), password: PASSWORD });
  expect(page.status).toBe(200);
  expect(page.body).toContain(`id="account-email">${email(name)}<`);
  return page;
}

/** Sets up an authenticator app for `name` (no factor yet: the password is enough), returns it and the recovery codes. */
async function enrolTotp(name: string): Promise<{ app: Authenticator; codes: string[] }> {
  const browser = new Browser();
  const account = await passwordToAccount(browser, name);
  const enrol = await browser.submit(account, '/account/totp/begin', { csrf: hiddenField(account.body, 'csrf') });
  expect(enrol.status).toBe(200);
  const app = new Authenticator(enrolmentKey(enrol.body));
  const done = await browser.submit(enrol, '/account/totp/confirm', { csrf: hiddenField(enrol.body, 'csrf'), code: await app.next() });
  expect(done.status).toBe(200);
  return { app, codes: recoveryCodes(done.body) };
}

function recoveryCodes(html: string): string[] {
  const list = /<ul[^>]*id="recovery-codes"[^>]*>([\s\S]*?)<\/ul>/.exec(html)?.[1];
  return list === undefined ? [] : [...list.matchAll(/<li>([^<]*)<\/li>/g)].map((m) => m[1].trim());
}

/** A POST from the browser with its cookies, not following the answer. */
function post(browser: Browser, path: string, fields: Record<string, string>): Promise<Page> {
  return browser.request(`${origin}${path}`, {
    method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams(fields).toString(),
  });
}

/** A POST of JSON, as the passkey script sends it. */
async function postJson(browser: Browser, path: string, body: unknown): Promise<{ status: number; body: any }> {
  const page = await browser.request(`${origin}${path}`, {
    method: 'POST', headers: { 'content-type': 'application/json', accept: 'application/json' }, body: JSON.stringify(body),
  });
  return { status: page.status, body: JSON.parse(page.body) };
}

/** The redirect an action answered with is a step-up of the session: acr 2fa, no new password asked. */
function expectStepUpRedirect(page: Page) {
  expect(page.status).toBe(303);
  const location = new URL(page.location!);
  expect(location.origin + location.pathname).toBe(`${origin}/auth`);
  expect(location.searchParams.get('client_id')).toBe('vigil-account');
  expect(location.searchParams.get('acr_values')).toBe(TWO);
  expect(location.searchParams.get('prompt')).toBeNull();
}

/** A passkey registration on /account through its JSON endpoints, with a software authenticator. */
async function addPasskey(browser: Browser, csrf: string, seed: string) {
  const options = await postJson(browser, '/account/passkeys/options', { csrf });
  if (options.status !== 200) return { options, verified: undefined, authenticator: undefined };
  const authenticator = new SoftAuthenticator({ seed, attachment: 'platform', transports: ['internal'] });
  const response = authenticator.register({ rpId: 'localhost', origin, challenge: options.body.challenge, userId: options.body.user.id });
  const verified = await postJson(browser, '/account/passkeys/verify', { csrf, response, name: seed });
  return { options, verified, authenticator };
}

// ---------------------------------------------------------------------------------------------
// What was recorded: the audit trail (read from the database) and the SETs on the RP's stream.

async function auditEntries(action: string, subject: string): Promise<Array<{ outcome: string; details: Record<string, any> }>> {
  const c = new pg.Client({ connectionString: stack.db.url });
  await c.connect();
  try {
    const { rows } = await c.query('SELECT outcome, details FROM audit_log WHERE action = $1 AND subject = $2 ORDER BY seq', [action, subject]);
    return rows;
  } finally {
    await c.end();
  }
}

/** Every SET on the stream so far (polled and acknowledged), by subject. */
const received: Array<{ sub: string; event: Record<string, any> }> = [];

async function credentialChanges(accountId: string, atLeast: number): Promise<Array<Record<string, any>>> {
  const end = Date.now() + 10_000;
  for (;;) {
    const res = await jsonCall(origin, 'POST', `/ssf/poll/${streamId}`, rpToken, { returnImmediately: true, maxEvents: 50 });
    expect(res.status).toBe(200);
    const sets = Object.entries(res.body.sets as Record<string, string>);
    for (const [, set] of sets) {
      const claims = JSON.parse(Buffer.from(set.split('.')[1], 'base64url').toString('utf8'));
      if (CREDENTIAL_CHANGE in claims.events) received.push({ sub: claims.sub_id.sub, event: claims.events[CREDENTIAL_CHANGE] });
    }
    if (sets.length) await jsonCall(origin, 'POST', `/ssf/poll/${streamId}`, rpToken, { returnImmediately: true, maxEvents: 0, ack: sets.map(([jti]) => jti) });
    const mine = received.filter((r) => r.sub === accountId).map((r) => r.event);
    if (mine.length >= atLeast || Date.now() > end) return mine;
    await sleep(200);
  }
}

// ---------------------------------------------------------------------------------------------

beforeAll(async () => {
  await Promise.all([
    launchChromium().then((b) => { chromium = b; }),
    startStack({}, { issuerHost: 'localhost' }).then((s) => { stack = s; }),
  ]);
  vigil = stack.vigil;
  origin = vigil.issuer;
  redirectUri = `http://localhost:${await freePort()}/cb`;
  const created = await Promise.all(PEOPLE.map((p) => vigilCli<{ id: string }>(stack.env, ['user', 'create', '--email', email(p), '--password', PASSWORD])));
  PEOPLE.forEach((p, i) => { ids[p] = created[i].id; });
  // A relying party every person has signed in to, following them all on a poll stream of credential changes.
  rp = await vigilCli<ClientOut>(stack.env, ['client', 'create', '--name', 'RP', '--redirect-uri', redirectUri, '--grant-type', 'authorization_code',
    '--grant-type', 'client_credentials', '--allow-resource', `${origin}/ssf`, '--scope', 'ssf:stream']);
  const config = await discover(origin, rp);
  for (const person of PEOPLE) {
    const request = await pkceAuthorization(config, { redirect_uri: redirectUri, scope: 'openid' });
    await request.redeem(await signIn(new Browser(), request.url, email(person), PASSWORD, redirectUri));
  }
  rpToken = await clientCredentialsToken(origin, rp, `${origin}/ssf`, 'ssf:stream');
  const stream = await jsonCall(origin, 'POST', '/ssf/stream', rpToken, { delivery: { method: 'urn:ietf:rfc:8936' }, events_requested: [CREDENTIAL_CHANGE] });
  expect(stream.status).toBe(201);
  streamId = stream.body.stream_id;
  for (const person of PEOPLE) {
    expect((await jsonCall(origin, 'POST', '/ssf/subjects/add', rpToken, { stream_id: streamId, subject: { format: 'iss_sub', iss: origin, sub: ids[person] } })).status).toBe(200);
  }
}, 120_000);

afterAll(async () => {
  await chromium?.close();
  await stack?.stop();
}, 60_000);

describe('in Chromium with a virtual authenticator', () => {
  /** A browser with no cookies, signed in to /account with the password only. */
  async function passwordOnly(test: string, name: string): Promise<BrowserSession> {
    const s = await openBrowserSession(chromium, `account-factors-${test}`);
    await s.page.goto(`${origin}/account`);
    await s.page.locator('#email').waitFor();
    await s.page.fill('#email', email(name));
    await s.page.fill('#password', PASSWORD);
    await s.page.click('#sign-in');
    await s.page.locator('#account-email').waitFor();
    expect(await s.page.textContent('#account-email')).toBe(email(name));
    return s;
  }

  /** The page now asks for the second factor alone: the step-up page of the interaction. */
  async function expectFactorPage(s: BrowserSession, step: string) {
    await s.page.locator('h1', { hasText: 'Confirm it is you' }).waitFor();
    expect(new URL(s.page.url()).pathname).toMatch(/^\/interaction\//);
    expect(await s.page.locator('#password').count()).toBe(0);
    await s.shot(step);
  }

  test('(a) with an authenticator app, a password-only sign-in cannot add a passkey, remove the app or get new recovery codes until the app is proved', async () => {
    const { app, codes } = await enrolTotp('tess');
    expect(codes).toHaveLength(10);
    const s = await passwordOnly('a', 'tess');
    await s.shot('account-password-only');

    // "Add a passkey": no ceremony starts, the person is sent to prove the app.
    await s.page.click('#add-passkey');
    await expectFactorPage(s, 'add-passkey-asks-factor');
    expect(await s.authenticator.credentials()).toEqual([]);
    await s.page.goto(`${origin}/account`);
    await s.page.locator('#no-passkeys').waitFor();
    expect(await s.page.textContent('#reauth-hint')).toMatch(/confirm it is you/);

    // "Remove the authenticator app": the same.
    await s.page.click('#remove-totp');
    await expectFactorPage(s, 'remove-app-asks-factor');
    await s.page.goto(`${origin}/account`);
    expect(await s.page.textContent('#totp-status')).toMatch(/set up\. 10 recovery codes left/);

    // "New recovery codes": no codes are shown, the old ones stand.
    await s.page.click('#regenerate-recovery');
    await expectFactorPage(s, 'new-codes-asks-factor');
    expect(await s.page.locator('#recovery-codes').count()).toBe(0);
    expect(await auditEntries('mfa.recovery_codes_issued', ids.tess)).toEqual([]);
    expect(await auditEntries('mfa.passkey_registered', ids.tess)).toEqual([]);
    expect(await auditEntries('mfa.totp_removed', ids.tess)).toEqual([]);

    // The proof: a code from the app on the step-up page, then back to the account page.
    await s.page.fill('#totp-code', await app.next());
    await s.page.click('#verify-totp');
    await s.page.locator('#notice').waitFor();
    expect(await s.page.textContent('#notice')).toMatch(/You confirmed it is you/);
    expect(await s.page.locator('#reauth-hint').count()).toBe(0);
    await s.shot('account-after-proof');

    await s.page.fill('#passkey-name', 'Tess laptop');
    await s.page.click('#add-passkey');
    await s.page.locator('#passkeys').waitFor();
    expect(await s.page.textContent('#notice')).toBe('Passkey added.');
    expect(await s.authenticator.credentials()).toHaveLength(1);

    await s.page.click('#regenerate-recovery');
    await s.page.locator('#recovery-codes li').first().waitFor();
    const fresh = (await s.page.locator('#recovery-codes li').allTextContents()).map((c) => c.trim());
    expect(fresh).toHaveLength(10);
    expect(fresh.filter((c) => codes.includes(c))).toEqual([]);
    await s.page.click('#back-to-account');

    await s.page.click('#remove-totp');
    await s.page.locator('#totp-status').waitFor();
    expect(await s.page.textContent('#totp-status')).toMatch(/Not set up/);
    await s.shot('account-after-changes');

    // Each change was allowed on the 2fa proof.
    for (const action of ['mfa.passkey_registered', 'mfa.recovery_codes_issued', 'mfa.totp_removed']) {
      const entries = await auditEntries(action, ids.tess);
      expect(entries).toHaveLength(1);
      expect(entries[0].details.proof).toMatchObject({ acr: TWO, amr: expect.arrayContaining(['pwd', 'otp']) });
    }
    expect(s.errors.filter((e) => /content security policy/i.test(e))).toEqual([]);
    await s.close();
  }, TEST_TIMEOUT);

  test('(b) with no second factor, a password adds the first passkey, announced; the next change then needs that passkey', async () => {
    const s = await passwordOnly('b', 'nina');
    expect(await s.page.locator('#reauth-hint').count()).toBe(0);
    await s.page.fill('#passkey-name', 'Nina phone');
    await s.page.click('#add-passkey');
    await s.page.locator('#passkeys').waitFor();
    expect(await s.page.textContent('#notice')).toBe('Passkey added.');
    await s.shot('first-passkey-added');

    const [entry] = await auditEntries('mfa.passkey_registered', ids.nina);
    expect(entry).toMatchObject({ outcome: 'success', details: { changeType: 'create', name: 'Nina phone', proof: { acr: ONE, amr: ['pwd'] } } });
    expect(await credentialChanges(ids.nina, 1)).toEqual([
      expect.objectContaining({ credential_type: 'fido2-platform', change_type: 'create', initiating_entity: 'user' }),
    ]);

    // Now the account has a second factor, and this sign-in was a password only: removing the
    // passkey asks for it first.
    await s.page.reload();
    expect(await s.page.textContent('#reauth-hint')).toMatch(/confirm it is you/);
    await s.page.click('#passkeys button[aria-label="Remove passkey Nina phone"]');
    await expectFactorPage(s, 'remove-asks-passkey');
    await s.page.click('#use-passkey');
    await s.page.locator('#notice').waitFor();
    expect(await s.page.textContent('#notice')).toMatch(/You confirmed it is you/);
    await s.page.click('#passkeys button[aria-label="Remove passkey Nina phone"]');
    await s.page.locator('#no-passkeys').waitFor();
    const [removed] = await auditEntries('mfa.passkey_removed', ids.nina);
    expect(removed.details.proof.acr).toBe('urn:vigil:acr:phr');
    await s.close();
  }, TEST_TIMEOUT);
});

describe('over HTTP', () => {
  test('with an authenticator app, every factor change from a password-only sign-in is refused or sent to a step-up; after the app code they go through', async () => {
    const { app } = await enrolTotp('hugo');
    const browser = new Browser();
    const account = await passwordToAccount(browser, 'hugo');
    const csrf = hiddenField(account.body, 'csrf');

    const { options } = await addPasskey(browser, csrf, 'hugo-key');
    expect(options).toEqual({ status: 401, body: { error: 'insufficient_user_authentication', error_description: expect.any(String), redirect: '/account/login?reauth=1' } });
    expect((await postJson(browser, '/account/passkeys/verify', { csrf, response: {} })).body.error).toBe('insufficient_user_authentication');
    for (const path of ['/account/totp/remove', '/account/recovery/regenerate', '/account/totp/begin']) {
      const answer = await post(browser, path, { csrf });
      expectStepUpRedirect(answer);
      expect(recoveryCodes(answer.body)).toEqual([]);
    }
    const still = await browser.follow(`${origin}/account`);
    expect(still.body).toContain('An authenticator app is set up. 10 recovery codes left.');
    expect(still.body).toContain('id="no-passkeys"');

    // The link the page offers: the factor page only (no password), then back to the account page.
    const factor = await browser.follow(`${origin}/account/login?reauth=1`);
    expect(factor.body).toContain('Confirm it is you');
    expect(factor.body).not.toContain('name="password"');
    const back = await browser.submit(factor, formAction(factor.body, '/totp'), { csrf: hiddenField(factor.body, 'csrf'), code: await app.next() });
    expect(isAccount(back)).toBe(true);
    expect(back.body).toContain('You confirmed it is you');

    const added = await addPasskey(browser, csrf, 'hugo-key');
    expect(added.verified).toEqual({ status: 200, body: { redirect: '/account?done=passkey' } });
    const regenerated = await post(browser, '/account/recovery/regenerate', { csrf });
    expect(regenerated.status).toBe(200);
    expect(recoveryCodes(regenerated.body)).toHaveLength(10);
  }, TEST_TIMEOUT);

  test('with no second factor, a password adds the first passkey (audited, announced; its recovery codes shown once), but not recovery codes alone; the second passkey then needs the first', async () => {
    const browser = new Browser();
    const account = await passwordToAccount(browser, 'pia');
    const csrf = hiddenField(account.body, 'csrf');
    const codes = await post(browser, '/account/recovery/regenerate', { csrf });
    expect(codes.status).toBe(409);
    expect(recoveryCodes(codes.body)).toEqual([]);

    const first = await addPasskey(browser, csrf, 'pia-key');
    expect(first.verified).toEqual({ status: 200, body: { redirect: '/account?done=passkey' } });
    const shown = await browser.follow(`${origin}/account?done=passkey`);
    expect(recoveryCodes(shown.body)).toHaveLength(10);
    expect(recoveryCodes((await browser.follow(`${origin}/account`)).body)).toEqual([]);
    const [entry] = await auditEntries('mfa.passkey_registered', ids.pia);
    expect(entry.details.proof).toMatchObject({ acr: ONE, amr: ['pwd'] });
    expect(await credentialChanges(ids.pia, 1)).toEqual([expect.objectContaining({ credential_type: 'fido2-platform', change_type: 'create' })]);

    const second = await addPasskey(browser, csrf, 'pia-key-2');
    expect(second.options.status).toBe(401);
    expect(second.options.body.error).toBe('insufficient_user_authentication');
    expect(await auditEntries('mfa.passkey_registered', ids.pia)).toHaveLength(1);
  }, TEST_TIMEOUT);
});
