/**
 * Second factors in a real browser: Chromium with its virtual WebAuthn authenticator (over CDP)
 * walks Vigil's own pages — /account, the password page, the factor page — for passkeys (as a
 * second factor, passwordless, step-up, removal) and for TOTP with recovery codes.
 *
 * WebAuthn refuses IP addresses as RP IDs, so the issuer and every page are http://localhost.
 */
import { generateSync } from 'otplib';
import { vigilCli } from '../support/vigil-process.ts';
import { discover, pkceAuthorization, type ClientOut } from '../support/stack.ts';
import { openBrowserSession, untilRelyingParty as reachRelyingParty, type BrowserSession, type VirtualCredential } from '../support/chromium.ts';
import { startBrowserStack, type BrowserStack } from '../support/browser-stack.ts';

const PASSWORD = 'correct horse battery staple 9';
const ACR_1FA = 'urn:vigil:acr:1fa';
const ACR_2FA = 'urn:vigil:acr:2fa';
const ACR_PHR = 'urn:vigil:acr:phr';
const TEST_TIMEOUT = 60_000;

let stack: BrowserStack;
let origin: string;
let web: ClientOut;
let adaId: string;
let bobId: string;
/** Every console error of every page, for the CSP check. */
const consoleErrors: string[] = [];

/** Ada's passkey as her authenticator last knew it (the sign count moves with each use). */
let adaPasskey: VirtualCredential | undefined;
/** Bob's authenticator app and recovery codes. */
let bobTotpSecret = '';
let bobRecoveryCodes: string[] = [];
let lastTotpStep = 0;

const atRp = (url: URL) => url.href.startsWith(stack.redirectUri);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** One person's browser: its own cookies, one page, a platform authenticator, numbered screenshots. */
type Session = BrowserSession;

const openSession = (test: string, credential?: VirtualCredential): Promise<Session> =>
  openBrowserSession(stack.browser, test, {
    ...(credential ? { credential } : {}),
    afterClose: (errors) => {
      consoleErrors.push(...errors);
      expect(cspErrors(errors)).toEqual([]);
    },
  });

/** After a sign-in step: allows the consent page if the RP has no grant in this session yet, then waits for the RP. */
async function untilRelyingParty(s: Session): Promise<string> {
  await reachRelyingParty(s.page, stack.redirectUri, () => s.shot('consent'));
  await s.page.waitForLoadState();
  await s.shot('relying-party');
  const url = new URL(s.page.url());
  expect(url.searchParams.get('error_description') ?? url.searchParams.get('error')).toBeNull();
  expect(url.searchParams.get('code')).toBeTruthy();
  return url.toString();
}

/** The password page of an interaction, filled and submitted. */
async function enterPassword(s: Session, email: string) {
  await s.page.locator('#email').waitFor();
  await s.shot('password-page');
  await s.page.fill('#email', email);
  await s.page.fill('#password', PASSWORD);
  await s.page.click('#sign-in');
}

/** The relying party sends the session's page to Vigil with a new authorization request; its side of it. */
async function requestSignIn(s: Session, extra: Record<string, string> = {}) {
  const request = await pkceAuthorization(await discover(stack.vigil.issuer, web), { redirect_uri: stack.redirectUri, scope: 'openid email', ...extra });
  await s.page.goto(request.url);
  return {
    async redeem(callback: string) {
      const tokens = await request.redeem(callback);
      return { tokens, claims: tokens.claims()! };
    },
  };
}

/** A new session sent by the relying party asking for acr 2fa, past the password page: the factor page is next. */
async function passwordFor2fa(test: string, email: string, credential?: VirtualCredential) {
  const s = await openSession(test, credential);
  const rpRequest = await requestSignIn(s, { acr_values: ACR_2FA });
  await enterPassword(s, email);
  return { s, rpRequest };
}

/** On the factor page: opens the recovery code form and submits `code`. */
async function enterRecoveryCode(s: Session, code: string) {
  await s.page.locator('#recovery-section').waitFor();
  await s.page.click('#recovery-section summary');
  await s.page.locator('#recovery-code').waitFor({ state: 'visible' });
  await s.shot('factor-page-recovery-open');
  await s.page.fill('#recovery-code', code);
  await s.page.click('#verify-recovery');
}

/** On the login page: signs in with a passkey alone, which is refused; what the page says about it. */
async function refusedPasskeySignIn(s: Session): Promise<string | null> {
  await s.page.locator('#passkey-sign-in').waitFor();
  await s.shot('login-page');
  await s.page.click('#passkey-sign-in');
  const status = s.page.locator('#webauthn-status');
  await status.waitFor({ state: 'visible' });
  return status.textContent();
}

/** Signs in to /account through the real pages (password only: the account page asks for no more). */
async function signInToAccount(s: Session, email: string) {
  await s.page.goto(`${origin}/account`);
  await enterPassword(s, email);
  await s.page.locator('#account-email').waitFor();
  expect(await s.page.textContent('#account-email')).toBe(email);
}

/** A TOTP code for a time step not used yet (each step is accepted once), within the ±1 step window. */
async function nextTotp(secret: string): Promise<string> {
  for (;;) {
    const now = Math.floor(Date.now() / 1000 / 30);
    const step = Math.max(now, lastTotpStep + 1);
    if (step <= now + 1) {
      lastTotpStep = step;
      return generateSync({ secret, epoch: step * 30 });
    }
    await sleep(1000);
  }
}

async function latestCredential(s: Session): Promise<VirtualCredential> {
  const credentials = await s.authenticator.credentials();
  expect(credentials).toHaveLength(1);
  return credentials[0];
}

const cspErrors = (errors: string[]) => errors.filter((e) => /content security policy|content-security-policy/i.test(e));

beforeAll(async () => {
  stack = await startBrowserStack();
  origin = stack.vigil.issuer;
  expect(origin).toBe(`http://localhost:${new URL(stack.vigil.url).port}`);
  const [ada, bob] = await Promise.all([
    vigilCli<{ id: string }>(stack.env, ['user', 'create', '--email', 'ada@vigil.test', '--password', PASSWORD, '--name', 'Ada']),
    vigilCli<{ id: string }>(stack.env, ['user', 'create', '--email', 'bob@vigil.test', '--password', PASSWORD, '--name', 'Bob']),
  ]);
  adaId = ada.id;
  bobId = bob.id;
  web = await vigilCli(stack.env, ['client', 'create', '--name', 'Web App', '--redirect-uri', stack.redirectUri]);
}, 120_000);

afterAll(async () => {
  await stack?.stop();
}, 60_000);

describe('passkeys', () => {
  test('1. a passkey is registered on /account after a password sign-in, and listed by its name', async () => {
    const s = await openSession('1-register-passkey');
    await signInToAccount(s, 'ada@vigil.test');
    expect(await s.page.locator('#no-passkeys').count()).toBe(1);
    await s.shot('account-before');
    await s.page.fill('#passkey-name', 'Ada laptop');
    await s.page.click('#add-passkey');
    await s.page.locator('#passkeys').waitFor();
    expect(await s.page.textContent('#notice')).toBe('Passkey added.');
    const names = await s.page.locator('#passkeys tbody tr td:first-child input[name="name"]').evaluateAll((inputs) => inputs.map((i) => (i as HTMLInputElement).value));
    expect(names).toEqual(['Ada laptop']);
    await s.shot('account-with-passkey');
    const credential = await latestCredential(s);
    expect(credential.rpId).toBe('localhost');
    expect(credential.isResidentCredential).toBe(true);
    expect(Buffer.from(credential.userHandle!, 'base64').toString('utf8')).toBe(adaId);
    adaPasskey = credential;
    await s.close();
  }, TEST_TIMEOUT);

  test('2. password + passkey for an RP asking acr 2fa: ID token is at least 2fa, with hwk and mfa', async () => {
    const { s, rpRequest } = await passwordFor2fa('2-password-and-passkey', 'ada@vigil.test', adaPasskey);
    await s.page.locator('#use-passkey').waitFor();
    await s.shot('factor-page');
    expect(await s.page.textContent('h1')).toBe('Second step');
    expect(await s.page.locator('#totp-code').count()).toBe(0);
    await s.page.click('#use-passkey');
    const { claims } = await rpRequest.redeem(await untilRelyingParty(s));
    expect(claims.sub).toBe(adaId);
    expect([ACR_2FA, ACR_PHR]).toContain(claims.acr);
    expect(claims.amr).toEqual(expect.arrayContaining(['pwd', 'hwk', 'mfa']));
    const after = await latestCredential(s);
    expect(after.signCount).toBeGreaterThan(adaPasskey!.signCount);
    adaPasskey = after;
    await s.close();
  }, TEST_TIMEOUT);

  test('3. passwordless: a passkey alone, from another browser holding the same key, gives acr phr', async () => {
    const s = await openSession('3-passwordless', adaPasskey);
    const rpRequest = await requestSignIn(s);
    await s.page.locator('#passkey-sign-in').waitFor();
    await s.shot('login-page');
    expect(await s.page.inputValue('#email')).toBe('');
    expect(await s.page.inputValue('#password')).toBe('');
    await s.page.click('#passkey-sign-in');
    const { claims } = await rpRequest.redeem(await untilRelyingParty(s));
    expect(claims.sub).toBe(adaId);
    expect(claims.acr).toBe(ACR_PHR);
    expect(claims.amr).toEqual(expect.arrayContaining(['hwk', 'user']));
    expect(claims.amr).not.toContain('pwd');
    adaPasskey = await latestCredential(s);
    await s.close();
  }, TEST_TIMEOUT);

  test('4. step-up from a password session to phishing-resistant asks only for the passkey', async () => {
    const s = await openSession('4-step-up', adaPasskey);
    const first = await requestSignIn(s, { acr_values: ACR_1FA });
    await enterPassword(s, 'ada@vigil.test');
    const one = await first.redeem(await untilRelyingParty(s));
    expect(one.claims.acr).toBe(ACR_1FA);
    expect(one.claims.amr).toEqual(['pwd']);

    const second = await requestSignIn(s, { acr_values: ACR_PHR });
    await s.page.locator('#use-passkey').waitFor();
    await s.shot('step-up-page');
    expect(await s.page.textContent('h1')).toBe('Confirm it is you');
    expect(await s.page.locator('#password').count()).toBe(0);
    // Only a passkey reaches phr: no TOTP or recovery form is offered.
    expect(await s.page.locator('#totp-code').count()).toBe(0);
    expect(await s.page.locator('#recovery-section').count()).toBe(0);
    await s.page.click('#use-passkey');
    const two = await second.redeem(await untilRelyingParty(s));
    expect(two.claims.acr).toBe(ACR_PHR);
    expect(two.claims.sub).toBe(one.claims.sub);
    expect(two.claims.amr).toEqual(expect.arrayContaining(['pwd', 'hwk', 'user', 'mfa']));
    adaPasskey = await latestCredential(s);
    await s.close();
  }, TEST_TIMEOUT);

  test('4b. a copy of the passkey whose signature counter went backwards (a clone) is refused', async () => {
    const s = await openSession('4b-cloned-passkey', { ...adaPasskey!, signCount: 0 });
    await requestSignIn(s);
    const refusal = await refusedPasskeySignIn(s);
    expect(refusal).toMatch(/^This passkey reported a signature counter lower than before/);
    expect(refusal).not.toMatch(/security key/);
    expect(atRp(new URL(s.page.url()))).toBe(false);
    await s.shot('refused');
    await s.close();
  }, TEST_TIMEOUT);

  test('5. a passkey removed on /account (after proving it: a password alone changes no factor) can no longer sign in', async () => {
    const s = await openSession('5-remove-passkey', adaPasskey);
    await signInToAccount(s, 'ada@vigil.test');
    await s.shot('account-with-passkey');
    await s.page.click('#passkeys button[aria-label="Remove passkey Ada laptop"]');
    // The sign-in was a password only: the passkey is asked for first, then the account page again.
    await s.page.locator('#use-passkey').waitFor();
    expect(await s.page.textContent('h1')).toBe('Confirm it is you');
    await s.shot('step-up-before-removal');
    await s.page.click('#use-passkey');
    await s.page.locator('#notice').waitFor();
    expect(await s.page.locator('#passkeys').count()).toBe(1);
    adaPasskey = await latestCredential(s);
    await s.page.click('#passkeys button[aria-label="Remove passkey Ada laptop"]');
    await s.page.locator('#no-passkeys').waitFor();
    expect(await s.page.locator('#passkeys').count()).toBe(0);
    await s.shot('account-after-removal');
    await s.close();

    // The authenticator still holds the key; Vigil no longer accepts it.
    const t = await openSession('5-removed-passkey-sign-in', adaPasskey);
    await requestSignIn(t);
    expect(await refusedPasskeySignIn(t)).toMatch(/not registered/i);
    expect(new URL(t.page.url()).pathname).toMatch(/^\/interaction\//);
    expect(await t.page.locator('#passkey-sign-in').isEnabled()).toBe(true);
    await t.shot('refused');
    await t.close();
  }, TEST_TIMEOUT);
});

describe('authenticator app and recovery codes', () => {
  test('6a. TOTP is enrolled on /account from the secret on the page, and 10 recovery codes are shown', async () => {
    const s = await openSession('6a-enrol-totp');
    await signInToAccount(s, 'bob@vigil.test');
    await s.shot('account');
    await s.page.click('#setup-totp');
    await s.page.locator('#totp-secret').waitFor();
    await expect(s.page.locator('#totp-qr').isVisible()).resolves.toBe(true);
    await s.shot('enrol-page');
    bobTotpSecret = (await s.page.textContent('#totp-secret'))!.replace(/\s/g, '');
    expect(bobTotpSecret).toMatch(/^[A-Z2-7]{16,}$/);
    await s.page.fill('#totp-code', await nextTotp(bobTotpSecret));
    await s.page.click('#confirm-totp');
    await s.page.locator('#recovery-codes li').first().waitFor();
    bobRecoveryCodes = (await s.page.locator('#recovery-codes li').allTextContents()).map((c) => c.trim());
    expect(bobRecoveryCodes).toHaveLength(10);
    expect(new Set(bobRecoveryCodes).size).toBe(10);
    await s.shot('recovery-codes');
    await s.page.click('#back-to-account');
    await s.page.locator('#totp-status').waitFor();
    expect(await s.page.textContent('#totp-status')).toMatch(/set up\. 10 recovery codes left/);
    await s.shot('account-after');
    await s.close();
  }, TEST_TIMEOUT);

  test('6b. password + TOTP for an RP asking acr 2fa', async () => {
    const { s, rpRequest } = await passwordFor2fa('6b-password-and-totp', 'bob@vigil.test');
    await s.page.locator('#totp-code').waitFor();
    await s.shot('factor-page');
    expect(await s.page.locator('#use-passkey').count()).toBe(0);
    await s.page.fill('#totp-code', await nextTotp(bobTotpSecret));
    await s.page.click('#verify-totp');
    const { claims } = await rpRequest.redeem(await untilRelyingParty(s));
    expect(claims.sub).toBe(bobId);
    expect(claims.acr).toBe(ACR_2FA);
    expect(claims.amr).toEqual(expect.arrayContaining(['pwd', 'otp', 'mfa']));
    await s.close();
  }, TEST_TIMEOUT);

  test('6c. password + a recovery code gives acr 2fa; the same code a second time is refused', async () => {
    const code = bobRecoveryCodes[0];
    const { s, rpRequest } = await passwordFor2fa('6c-recovery-code', 'bob@vigil.test');
    await enterRecoveryCode(s, code);
    const { claims } = await rpRequest.redeem(await untilRelyingParty(s));
    expect(claims.sub).toBe(bobId);
    expect(claims.acr).toBe(ACR_2FA);
    expect(claims.amr).toEqual(expect.arrayContaining(['pwd', 'otp']));
    await s.close();

    const { s: t } = await passwordFor2fa('6c-recovery-code-reused', 'bob@vigil.test');
    await enterRecoveryCode(t, code);
    await t.page.locator('#error').waitFor();
    expect(await t.page.textContent('#error')).toBe('That recovery code is not correct or was already used.');
    expect(await t.page.textContent('h1')).toBe('Second step');
    expect(atRp(new URL(t.page.url()))).toBe(false);
    await t.shot('refused');
    await t.close();
  }, TEST_TIMEOUT);

  test('7. a wrong TOTP code shows an error and stays on the factor page', async () => {
    const { s } = await passwordFor2fa('7-wrong-totp', 'bob@vigil.test');
    await s.page.locator('#totp-code').waitFor();
    const now = Math.floor(Date.now() / 1000 / 30);
    const valid = new Set([-1, 0, 1, 2].map((d) => generateSync({ secret: bobTotpSecret, epoch: (now + d) * 30 })));
    const wrong = ['123456', '654321', '000000'].find((c) => !valid.has(c))!;
    await s.page.fill('#totp-code', wrong);
    await s.page.click('#verify-totp');
    await s.page.locator('#error').waitFor();
    expect(await s.page.textContent('#error')).toMatch(/code is not correct/);
    expect(await s.page.textContent('h1')).toBe('Second step');
    await expect(s.page.locator('#totp-code').isVisible()).resolves.toBe(true);
    expect(atRp(new URL(s.page.url()))).toBe(false);
    await s.shot('error');
    await s.close();
  }, TEST_TIMEOUT);
});

test('no page reported a Content Security Policy violation (and the check does see one)', async () => {
  expect(cspErrors(consoleErrors)).toEqual([]);
  // Canary: an inline script injected into a Vigil page must be refused and reported, or the
  // assertion above proves nothing.
  const s = await openSession('csp-canary');
  await s.page.goto(`${origin}/account/signed-out`);
  await s.shot('signed-out-page');
  await s.page.evaluate(() => {
    const script = document.createElement('script');
    script.textContent = 'document.title = "inline ran"';
    document.body.appendChild(script);
  });
  for (let i = 0; i < 50 && cspErrors(s.errors).length === 0; i++) await sleep(100);
  expect(cspErrors(s.errors).length).toBeGreaterThan(0);
  expect(await s.page.title()).not.toBe('inline ran');
  await s.context.close();
}, TEST_TIMEOUT);
