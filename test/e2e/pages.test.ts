/**
 * The pages people see, in Chromium, in light and in dark mode: the sign-in page, consent, the
 * factor page (a step-up the application asks for, one an administrator asks for, a wrong
 * recovery code), the account page and the authenticator-app enrolment page. Every visible text
 * must meet WCAG AA contrast against the background it is drawn on; the account page's buttons
 * sit on their row's line; the key to type by hand comes in blocks. Screenshots of each go to
 * test-output/screenshots (pages-<scheme>-*).
 */
import type { Page } from 'playwright-core';
import { vigilCli } from '../support/vigil-process.ts';
import { discover, pkceAuthorization, type ClientOut } from '../support/stack.ts';
import { openBrowserSession, screenshot, type BrowserSession } from '../support/chromium.ts';
import { startBrowserStack, type BrowserStack } from '../support/browser-stack.ts';
import { Authenticator } from '../support/authenticator.ts';
import { lowContrastTexts } from '../support/page-checks.ts';

const PASSWORD = 'correct horse battery staple 9';
const ACR_2FA = 'urn:vigil:acr:2fa';
const TEST_TIMEOUT = 90_000;
const SCHEMES = ['light', 'dark'] as const;
type Scheme = typeof SCHEMES[number];

let stack: BrowserStack;
const clients = {} as Record<Scheme, ClientOut>;
let adaApp: Authenticator;

const atRp = (url: string) => url.startsWith(stack.redirectUri);

/** The page's contrast is checked and a screenshot taken. */
async function inspect(page: Page, scheme: Scheme, step: string): Promise<void> {
  await page.waitForLoadState();
  await screenshot(page, `pages-${scheme}`, step);
  expect({ step, scheme, lowContrast: await lowContrastTexts(page) }).toEqual({ step, scheme, lowContrast: [] });
}

/** What the factor page says under its heading about why it is asked. */
const stepUpReason = (page: Page) => page.locator('#main > p.hint').first().textContent();

async function openSession(scheme: Scheme, name: string): Promise<BrowserSession> {
  const s = await openBrowserSession(stack.browser, `pages-${scheme}-${name}`);
  await s.page.emulateMedia({ colorScheme: scheme });
  expect(await s.page.evaluate(() => matchMedia('(prefers-color-scheme: dark)').matches)).toBe(scheme === 'dark');
  return s;
}

async function requestSignIn(s: BrowserSession, client: ClientOut, extra: Record<string, string> = {}) {
  const request = await pkceAuthorization(await discover(stack.vigil.issuer, client), { redirect_uri: stack.redirectUri, scope: 'openid email', ...extra });
  await s.page.goto(request.url);
}

async function enterPassword(page: Page, email: string) {
  await page.locator('#email').waitFor();
  await page.fill('#email', email);
  await page.fill('#password', PASSWORD);
  await page.click('#sign-in');
}

async function signInToAccount(page: Page, email: string) {
  await page.goto(`${stack.vigil.issuer}/account`);
  await enterPassword(page, email);
  await page.locator('#account-email').waitFor();
}

/** Clicks `selector` on the account page; a proof of a second factor (the passkey) first if asked. */
async function accountAction(page: Page, selector: string, until: string) {
  await page.click(selector);
  for (let i = 0; i < 3; i++) {
    const next = await Promise.race([
      page.locator(until).waitFor().then(() => 'done' as const),
      page.locator('#use-passkey').waitFor().then(() => 'proof' as const),
    ]);
    if (next === 'done') return;
    await page.click('#use-passkey');
    await page.locator(`${until}, #account-email`).first().waitFor();
    if (await page.locator(until).count() > 0) return;
    await page.click(selector);
  }
  throw new Error(`${selector} did not lead to ${until}`);
}

beforeAll(async () => {
  stack = await startBrowserStack();
  await Promise.all([
    vigilCli(stack.env, ['user', 'create', '--email', 'ada@vigil.test', '--password', PASSWORD, '--name', 'Ada']),
    vigilCli(stack.env, ['user', 'create', '--email', 'bob@vigil.test', '--password', PASSWORD, '--name', 'Bob']),
    // A client each: consent is asked once per person and client.
    ...SCHEMES.map(async (scheme) => { clients[scheme] = await vigilCli<ClientOut>(stack.env, ['client', 'create', '--name', `Web App ${scheme}`, '--redirect-uri', stack.redirectUri]); }),
  ]);

  // Ada has a passkey and an authenticator app: the account page lists them, the factor page offers all three ways.
  const s = await openBrowserSession(stack.browser, 'pages-setup');
  await signInToAccount(s.page, 'ada@vigil.test');
  await s.page.fill('#passkey-name', 'Ada laptop');
  await s.page.click('#add-passkey');
  await s.page.locator('#passkeys').waitFor();
  await accountAction(s.page, '#setup-totp', '#totp-secret');
  adaApp = new Authenticator((await s.page.textContent('#totp-secret'))!.replace(/\s/g, ''));
  await s.page.fill('#totp-code', await adaApp.next());
  await s.page.click('#confirm-totp');
  await s.page.locator('#recovery-codes li').first().waitFor();
  await s.close();
}, 180_000);

afterAll(async () => {
  await stack?.stop();
}, 60_000);

describe.each(SCHEMES)('%s mode', (scheme) => {
  test('sign-in, consent, and the factor page of a step-up the application asks for, then one an administrator asks for', async () => {
    const s = await openSession(scheme, 'sign-in');
    await requestSignIn(s, clients[scheme]);
    await s.page.locator('#sign-in').waitFor();
    await inspect(s.page, scheme, '01-sign-in');

    await enterPassword(s.page, 'ada@vigil.test');
    await s.page.locator('#allow').waitFor();
    await inspect(s.page, scheme, '02-consent');
    await s.page.click('#allow');
    await s.page.waitForURL((u) => atRp(u.href));

    // The application asks for more than the password: it is the one asking.
    await requestSignIn(s, clients[scheme], { acr_values: ACR_2FA });
    await s.page.locator('#use-passkey').waitFor();
    expect(await s.page.textContent('h1')).toBe('Confirm it is you');
    expect(await stepUpReason(s.page)).toBe(`Web App ${scheme} needs a stronger sign-in for ada@vigil.test.`);
    await inspect(s.page, scheme, '03-factor-page-application-step-up');

    // A wrong recovery code: its error is in the recovery form (left open), not under the app-code heading.
    await s.page.click('#recovery-section summary');
    await s.page.fill('#recovery-code', 'aaaaa-bbbbb');
    await s.page.click('#verify-recovery');
    await s.page.locator('#error').waitFor();
    expect(await s.page.textContent('#error')).toBe('That recovery code is not correct or was already used.');
    expect(await s.page.locator('#recovery-section #error').count()).toBe(1);
    expect(await s.page.locator('#recovery-section').getAttribute('open')).not.toBeNull();
    const [summary, error, totpHeading] = await Promise.all(['#recovery-section summary', '#error', '#totp-heading'].map((q) => s.page.locator(q).boundingBox()));
    expect(error!.y).toBeGreaterThan(summary!.y);
    expect(error!.y).toBeGreaterThan(totpHeading!.y + totpHeading!.height);
    await inspect(s.page, scheme, '04-factor-page-wrong-recovery-code');

    // An administrator asks for a step-up: the page says so, not that the application needs it.
    await vigilCli(stack.env, ['user', 'require-step-up', '--email', 'ada@vigil.test', '--acr', ACR_2FA]);
    await requestSignIn(s, clients[scheme]);
    await s.page.locator('#totp-code').waitFor();
    expect(await s.page.textContent('h1')).toBe('Confirm it is you');
    const reason = await stepUpReason(s.page);
    expect(reason).toMatch(/^Your administrator asked you to confirm it is you/);
    expect(reason).not.toMatch(/needs a stronger sign-in/);
    await inspect(s.page, scheme, '05-factor-page-administrator-step-up');
    await s.page.fill('#totp-code', await adaApp.next());
    await s.page.click('#verify-totp');
    await s.page.waitForURL((u) => atRp(u.href));
    await s.close();
  }, TEST_TIMEOUT);

  test('the account page: readable, and each row\'s buttons on the row\'s line', async () => {
    const s = await openSession(scheme, 'account');
    await signInToAccount(s.page, 'ada@vigil.test');
    await s.page.locator('#passkeys').waitFor();
    await inspect(s.page, scheme, '06-account');
    const rows = await s.page.evaluate(() => Array.from(document.querySelectorAll('#passkeys tbody tr, #sessions tbody tr')).map((row) => {
      // The row's text: the first cell with text of its own (not a form).
      const cell = Array.from(row.querySelectorAll('td')).find((td) => Array.from(td.childNodes).some((n) => n.nodeType === Node.TEXT_NODE && n.textContent!.trim()))!;
      const range = document.createRange();
      range.selectNodeContents(cell);
      const text = range.getBoundingClientRect();
      return Array.from(row.querySelectorAll('button')).map((b) => {
        const r = b.getBoundingClientRect();
        return { button: b.textContent!.trim(), buttonTop: r.top, buttonBottom: r.bottom, textTop: text.top, textBottom: text.bottom };
      });
    }).flat());
    expect(rows.map((r) => r.button)).toEqual(expect.arrayContaining(['Rename', 'Remove', 'Sign out']));
    for (const r of rows) {
      const buttonMiddle = (r.buttonTop + r.buttonBottom) / 2;
      const textMiddle = (r.textTop + r.textBottom) / 2;
      expect({ ...r, offset: Math.abs(buttonMiddle - textMiddle) <= 3 }).toEqual({ ...r, offset: true });
    }
    await s.close();
  }, TEST_TIMEOUT);

  test('the error page and the signed-out page: readable', async () => {
    const s = await openSession(scheme, 'other');
    await s.page.goto(`${stack.vigil.issuer}/interaction/no-such-interaction`);
    await s.page.locator('#error-code').waitFor();
    await inspect(s.page, scheme, '08-error');
    await s.page.goto(`${stack.vigil.issuer}/account/signed-out`);
    await inspect(s.page, scheme, '09-signed-out');
    await s.close();
  }, TEST_TIMEOUT);

  test('the authenticator-app page: readable, the key in blocks of four, Cancel where the buttons are', async () => {
    const s = await openSession(scheme, 'enrol');
    await signInToAccount(s.page, 'bob@vigil.test');
    await s.page.click('#setup-totp');
    await s.page.locator('#totp-secret').waitFor();
    await inspect(s.page, scheme, '07-authenticator-app');
    const key = (await s.page.textContent('#totp-secret'))!;
    expect(key).toMatch(/^[A-Z2-7]{4}( [A-Z2-7]{4})*( [A-Z2-7]{1,3})?$/);
    expect(key.replace(/ /g, '').length).toBeGreaterThanOrEqual(16);
    const layout = await s.page.evaluate(() => {
      const box = (q: string) => document.querySelector(q)!.getBoundingClientRect();
      const keyElement = document.querySelector('#totp-secret')!;
      const link = document.querySelector('#cancel')!;
      return {
        keyFits: keyElement.scrollWidth <= keyElement.clientWidth + 1 && box('#totp-secret').right <= box('#main').right,
        cancelMiddle: (box('#cancel').left + box('#cancel').right) / 2,
        buttonMiddle: (box('#confirm-totp').left + box('#confirm-totp').right) / 2,
        linkColor: getComputedStyle(link).color,
        accent: getComputedStyle(document.querySelector('.brand')!).color,
      };
    });
    expect(layout.keyFits).toBe(true);
    expect(Math.abs(layout.cancelMiddle - layout.buttonMiddle)).toBeLessThanOrEqual(2);
    expect(layout.linkColor).toBe(layout.accent);
    await s.close();
  }, TEST_TIMEOUT);
});
