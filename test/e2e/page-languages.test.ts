/**
 * The people-facing pages in each language of the catalogue and in light and dark mode, with a
 * configured brand (name, logo, accent colours), in Chromium: the page is in the browser's language
 * (`<html lang>`, Content-Language, and its texts are the catalogue's for that language, with none of
 * English's left where German differs), every visible text meets WCAG AA contrast, nothing overflows
 * the card, on a desktop (light mode) and on a phone's width (dark mode). Screenshots go to a temporary directory (vigil-page-languages-*), not the repository.
 * The mails that lead to pages (an address check, a password reset, an invitation) arrive at an
 * in-process SMTP server; the ones a person asks for are in the language of their browser.
 *
 * To add a page: one row in PAGES, naming how to open it and the catalogue keys it must show.
 */
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Page, Response } from 'playwright-core';
import { vigilCli } from '../support/vigil-process.ts';
import { discover, pkceAuthorization, type ClientOut } from '../support/stack.ts';
import { openBrowserSession, type BrowserSession } from '../support/chromium.ts';
import { startBrowserStack, type BrowserStack } from '../support/browser-stack.ts';
import { lowContrastTexts, overflowingElements } from '../support/page-checks.ts';
import { Authenticator } from '../support/authenticator.ts';
import { startMailbox, type Mailbox } from '../support/mailbox.ts';
import { shippedCatalogue, translator, type Translate } from '../../src/i18n/index.ts';

const PASSWORD = 'correct horse battery staple 9';
const BRAND = { name: 'Acme ID', accent: '#6a1b9a', accentDark: '#d7aefb' };
/** Light mode on a desktop, dark mode on a phone (where a longer word has the least room). */
const SCREENS = [
  { scheme: 'light', width: 1280, height: 800 },
  { scheme: 'dark', width: 360, height: 740 },
] as const;
/** Each language as a browser set to it asks for it. */
const LANGUAGES = { en: 'en-GB', de: 'de-DE' } as const;
type Lang = keyof typeof LANGUAGES;
const SHOTS = mkdtempSync(join(tmpdir(), 'vigil-page-languages-'));

interface Visit {
  s: BrowserSession;
  client: ClientOut;
  email: string;
  lang: Lang;
  t: Translate;
  /** Unique to this language and screen (for the invited email). */
  tag: string;
  /** How many mails the person had before the one a row waits for. */
  mailsSeen: number;
  /** The link of the reset mail, once it arrived. */
  resetLink?: string;
}

interface PageCase {
  name: string;
  /** Opens the page (from wherever the previous row left the browser) and returns the page's response. */
  open(visit: Visit): Promise<Response | null>;
  /** Catalogue keys the page must show, in the page's language; the first is its heading. */
  keys: string[];
}

let stack: BrowserStack;
let mailbox: Mailbox;
const atRp = (url: string) => url.startsWith(stack.redirectUri);

async function untilResponse(page: Page, path: RegExp, action: () => Promise<unknown>): Promise<Response | null> {
  const [response] = await Promise.all([page.waitForResponse((r) => path.test(new URL(r.url()).pathname) && r.request().resourceType() === 'document' && (r.status() < 300 || r.status() >= 400)), action()]);
  return response;
}

/** The next mail to the person, checked to be in the page's language (its subject, greeting and `<html lang>`); its link. */
async function mailedLink({ email, lang, t, mailsSeen }: Visit, subjectKey: string): Promise<string> {
  const mail = await mailbox.next(email, mailsSeen);
  expect({ subject: mail.subject, greeting: mail.text.split('\n')[0], lang: /<html lang="([^"]+)"/.exec(mail.html)?.[1] })
    .toEqual({ subject: t(subjectKey), greeting: t('mail.helloName', { name: email }), lang });
  return mail.links[0];
}

/** In order: each row starts where the one before left the browser. */
const PAGES: PageCase[] = [
  {
    name: 'sign-in',
    async open({ s, client }) {
      const request = await pkceAuthorization(await discover(stack.vigil.issuer, client), { redirect_uri: stack.redirectUri, scope: 'openid email' });
      return untilResponse(s.page, /^\/interaction\//, () => s.page.goto(request.url));
    },
    keys: ['login.title', 'login.toContinue', 'login.email', 'login.password', 'login.submit', 'login.passkey', 'common.cancel'],
  },
  {
    name: 'consent',
    async open({ s, email }) {
      await s.page.fill('#email', email);
      await s.page.fill('#password', PASSWORD);
      return untilResponse(s.page, /^\/interaction\//, () => s.page.click('#sign-in'));
    },
    keys: ['consent.heading', 'consent.asks', 'consent.openid', 'consent.email', 'consent.allow', 'consent.deny'],
  },
  {
    name: 'account',
    async open({ s }) {
      await s.page.click('#allow');
      await s.page.waitForURL((u) => atRp(u.href));
      return untilResponse(s.page, /^\/account\/?$/, () => s.page.goto(`${stack.vigil.issuer}/account`));
    },
    keys: ['account.title', 'account.signedInAs', 'account.passkeysHeading', 'account.noPasskeys', 'account.addPasskey', 'account.totpSetUp', 'account.sessionsHeading', 'account.sessionSignOut'],
  },
  {
    name: 'address-check',
    async open(visit) {
      const { s, email } = visit;
      visit.mailsSeen = mailbox.to(email).length;
      await Promise.all([s.page.waitForURL((u) => u.searchParams.get('done') === 'verification-sent'), s.page.click('#send-verification')]);
      const link = await mailedLink(visit, 'mail.emailVerification.subject');
      return untilResponse(s.page, /^\/email\/verify$/, () => s.page.goto(link));
    },
    keys: ['verify.title', 'verify.confirm', 'verify.submit'],
  },
  {
    name: 'address-confirmed',
    open: ({ s }) => untilResponse(s.page, /^\/email\/verify$/, () => s.page.click('#confirm-email')),
    keys: ['verify.doneTitle', 'verify.done'],
  },
  {
    name: 'sign-out',
    open: ({ s }) => untilResponse(s.page, /^\/session\/end$/, () => s.page.goto(`${stack.vigil.issuer}/session/end`)),
    keys: ['logout.heading', 'logout.question', 'logout.yes', 'logout.no'],
  },
  {
    name: 'error',
    open: ({ s }) => untilResponse(s.page, /^\/auth$/, () => s.page.goto(`${stack.vigil.issuer}/auth?client_id=no-such-client&response_type=code&scope=openid`)),
    keys: ['error.titleSignIn', 'error.codes.invalid_client', 'error.detail', 'common.errorCode', 'error.startAgain'],
  },
  {
    name: 'forgot-password',
    async open({ s, client }) {
      const request = await pkceAuthorization(await discover(stack.vigil.issuer, client), { redirect_uri: stack.redirectUri, scope: 'openid', prompt: 'login' });
      await s.page.goto(request.url);
      return untilResponse(s.page, /\/forgot$/, () => s.page.click('#forgot-password'));
    },
    keys: ['forgot.title', 'forgot.intro', 'login.email', 'forgot.send', 'forgot.back'],
  },
  {
    name: 'forgot-password-sent',
    async open(visit) {
      const { s, email } = visit;
      await s.page.fill('#email', email);
      visit.mailsSeen = mailbox.to(email).length;
      return untilResponse(s.page, /\/forgot$/, () => s.page.click('#send-link'));
    },
    keys: ['forgot.sentTitle', 'forgot.sent', 'forgot.sentHint', 'forgot.back'],
  },
  {
    name: 'password-reset',
    async open(visit) {
      // The mail is in the language of the browser that asked for it.
      visit.resetLink = await mailedLink(visit, 'mail.passwordReset.subject');
      return untilResponse(visit.s.page, /^\/password\/reset$/, () => visit.s.page.goto(visit.resetLink!));
    },
    keys: ['reset.title', 'reset.forEmail', 'reset.newPassword', 'reset.again', 'reset.minLength', 'reset.submit'],
  },
  {
    name: 'password-changed',
    async open({ s }) {
      await s.page.fill('#password', `${PASSWORD} new`);
      await s.page.fill('#confirm', `${PASSWORD} new`);
      return untilResponse(s.page, /^\/password\/reset$/, () => s.page.click('#set-password'));
    },
    keys: ['reset.doneTitle', 'reset.done'],
  },
  {
    name: 'link-used',
    open: ({ s, resetLink }) => untilResponse(s.page, /^\/password\/reset$/, () => s.page.goto(resetLink!)),
    keys: ['link.usedTitle', 'link.used', 'link.nextReset'],
  },
  {
    name: 'invitation',
    async open({ s, tag }) {
      const invited = `invited-${tag}@vigil.test`;
      await vigilCli(stack.env, ['user', 'invite', invited]);
      const mail = await mailbox.next(invited, 0);
      return untilResponse(s.page, /^\/invitation\//, () => s.page.goto(mail.links[0]));
    },
    keys: ['invitation.title', 'invitation.invitedAs', 'invitation.passkeyHeading', 'invitation.passkeyText', 'invitation.passkeyButton', 'invitation.passwordHeading',
      'invitation.passwordThenApp', 'invitation.passwordLabel', 'invitation.confirmLabel', 'invitation.continue'],
  },
  {
    name: 'invitation-app',
    async open({ s }) {
      await s.page.fill('#new-password', PASSWORD);
      await s.page.fill('#confirm-password', PASSWORD);
      return untilResponse(s.page, /^\/invitation\/.*\/password$/, () => s.page.click('#choose-password'));
    },
    keys: ['totp.title', 'invitation.totpIntro', 'totp.scan', 'totp.byHand', 'totp.code', 'totp.turnOn', 'common.cancel'],
  },
  {
    name: 'invitation-done',
    async open({ s }) {
      const app = new Authenticator((await s.page.textContent('#totp-secret'))!.replace(/\s/g, ''));
      await s.page.fill('#totp-code', await app.next());
      return untilResponse(s.page, /^\/invitation\/.*\/totp$/, () => s.page.click('#confirm-totp'));
    },
    keys: ['invitation.doneTitle', 'invitation.done', 'recovery.keepDevice', 'invitation.goToAccount'],
  },
  {
    name: 'invitation-closed',
    open: ({ s }) => untilResponse(s.page, /^\/invitation\//, () => s.page.goto(`${stack.vigil.issuer}/invitation/${'A'.repeat(43)}`)),
    keys: ['invitation.closed.invalidTitle', 'invitation.closed.invalid', 'invitation.closed.hint'],
  },
];

const catalogue = shippedCatalogue();
const say = (lang: Lang): Translate => translator(catalogue, lang, { product: BRAND.name });
/** A key's text as the page shows it: its placeholders are the page's values, so only the words around them are compared. */
const fixedParts = (text: string) => text.split(/\{[a-zA-Z]+\}/).map((part) => part.trim()).filter((part) => part.length > 3);

beforeAll(async () => {
  mailbox = await startMailbox();
  const dir = mkdtempSync(join(tmpdir(), 'vigil-brand-'));
  writeFileSync(join(dir, 'logo.svg'), `<svg xmlns="http://www.w3.org/2000/svg" width="24" height="24" viewBox="0 0 24 24"><circle cx="12" cy="12" r="10" fill="${BRAND.accent}"/></svg>`);
  stack = await startBrowserStack({
    ...mailbox.env,
    VIGIL_BRAND_NAME: BRAND.name, VIGIL_BRAND_LOGO: join(dir, 'logo.svg'),
    VIGIL_BRAND_ACCENT: BRAND.accent, VIGIL_BRAND_ACCENT_DARK: BRAND.accentDark,
  });
}, 180_000);

afterAll(async () => {
  await stack?.stop();
  await mailbox?.stop();
}, 60_000);

describe.each(Object.keys(LANGUAGES) as Lang[])('in %s', (lang) => {
  const t = say(lang);

  test.each(SCREENS)('$scheme mode, $width px wide: every page in the language, readable, nothing overflowing, branded', async ({ scheme, width, height }) => {
    const email = `${lang}-${scheme}@vigil.test`;
    const [client] = await Promise.all([
      vigilCli<ClientOut>(stack.env, ['client', 'create', '--name', `Web App ${lang} ${scheme}`, '--redirect-uri', stack.redirectUri]),
      vigilCli(stack.env, ['user', 'create', '--email', email, '--password', PASSWORD]),
    ]);
    const s = await openBrowserSession(stack.browser, `languages-${lang}-${scheme}`, { locale: LANGUAGES[lang] });
    await s.page.emulateMedia({ colorScheme: scheme });
    await s.page.setViewportSize({ width, height });
    mkdirSync(join(SHOTS, lang), { recursive: true });
    const visit: Visit = { s, client, email, lang, t, tag: `${lang}-${scheme}`, mailsSeen: 0 };
    for (const [index, row] of PAGES.entries()) {
      const response = await row.open(visit);
      await s.page.waitForLoadState();
      const step = `${String(index + 1).padStart(2, '0')}-${row.name}`;
      await s.page.screenshot({ path: join(SHOTS, lang, `${scheme}-${step}.png`), fullPage: true });
      const shown = await s.page.evaluate(() => ({
        lang: document.documentElement.lang, title: document.title, heading: document.querySelector('h1')?.textContent?.trim(),
        text: document.body.innerText, brand: document.querySelector('#brand-name')?.textContent,
        logo: (document.querySelector('#brand-logo') as HTMLImageElement | null)?.naturalWidth ?? 0,
      }));
      const missing = row.keys.flatMap((key) => fixedParts(catalogue.message(lang, key)!).filter((part) => !shown.text.includes(part)).map((part) => `${key}: ${part}`));
      // Where the language differs from English, none of English's words for the page are left.
      const english = lang === 'en' ? [] : row.keys.flatMap((key) => fixedParts(catalogue.message('en', key)!)
        .filter((part) => !fixedParts(catalogue.message(lang, key)!).includes(part) && shown.text.includes(part)).map((part) => `${key}: ${part}`));
      expect({ step, status: response?.status(), contentLanguage: response?.headers()['content-language'], vary: /accept-language/i.test(response?.headers().vary ?? '') })
        .toEqual({ step, status: expect.any(Number), contentLanguage: lang, vary: true });
      expect({ step, lang: shown.lang, heading: shown.heading, missing, english }).toEqual({ step, lang, heading: t(row.keys[0]), missing: [], english: [] });
      expect({ step, title: shown.title.endsWith(` · ${BRAND.name}`), brand: shown.brand, logo: shown.logo > 0 }).toEqual({ step, title: true, brand: BRAND.name, logo: true });
      expect({ step, scheme, lowContrast: await lowContrastTexts(s.page), overflow: await overflowingElements(s.page) }).toEqual({ step, scheme, lowContrast: [], overflow: [] });
      if (row.name === 'sign-in') {
        // The configured accent colours the buttons, and the passkey script speaks the page's language.
        const accent = await s.page.evaluate(() => getComputedStyle(document.querySelector('#sign-in')!).backgroundColor);
        const hex = scheme === 'dark' ? BRAND.accentDark : BRAND.accent;
        expect(accent).toBe(`rgb(${[1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16)).join(', ')})`);
        await s.page.evaluate(() => Object.defineProperty(window, 'PublicKeyCredential', { value: undefined }));
        await s.page.click('#passkey-sign-in');
        expect(await s.page.textContent('#webauthn-status')).toBe(t('webauthn.unsupported'));
      }
    }
    // No CSP violation, no script error (the error pages' own 4xx are the only failed loads).
    expect(s.errors.filter((e) => !/\/(auth|password\/reset|invitation\/A+)\b.*status of (400|404|410)/.test(e))).toEqual([]);
    await s.close();
  }, 150_000);
});

test('the brand\'s assets: the colours as a stylesheet, the logo as an image nothing in which can run', async () => {
  const css = await fetch(`${stack.vigil.issuer}/assets/brand.css`);
  expect(css.headers.get('content-type')).toBe('text/css; charset=utf-8');
  const text = await css.text();
  expect(text).toContain(`--accent: ${BRAND.accent};`);
  expect(text).toMatch(new RegExp(`prefers-color-scheme: dark\\) \\{ :root \\{ --accent: ${BRAND.accentDark};`));
  const logo = await fetch(`${stack.vigil.issuer}/assets/logo.svg`);
  expect(logo.headers.get('content-type')).toBe('image/svg+xml');
  expect(logo.headers.get('content-security-policy')).toMatch(/default-src 'none'.*sandbox/);
  expect((await fetch(`${stack.vigil.issuer}/assets/logo.png`)).status).toBe(404);
});
