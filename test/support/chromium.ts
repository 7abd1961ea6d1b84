/**
 * A real browser for the end-to-end tests: Debian's Chromium driven by playwright-core, and
 * Chromium's virtual WebAuthn authenticator over CDP. Never downloads a browser; a missing
 * Chromium fails the tests loudly (CI installs it in .ci/run).
 */
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser, type BrowserContext, type CDPSession, type Page } from 'playwright-core';
import { ROOT } from './vigil-process.ts';

export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

export const CHROMIUM_ARGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
];

export async function launchChromium(): Promise<Browser> {
  if (!existsSync(CHROMIUM_PATH)) {
    throw new Error(`Chromium is not installed at ${CHROMIUM_PATH}: install Debian's "chromium" package (see .ci/run). Browser tests are never skipped.`);
  }
  return chromium.launch({ executablePath: CHROMIUM_PATH, args: CHROMIUM_ARGS, timeout: 60_000 });
}

/** What CDP's WebAuthn domain reports for, and accepts as, a credential. */
export interface VirtualCredential {
  credentialId: string;
  isResidentCredential: boolean;
  rpId?: string;
  /** base64 PKCS#8 */
  privateKey: string;
  userHandle?: string;
  signCount: number;
  [other: string]: unknown;
}

export interface VirtualAuthenticator {
  cdp: CDPSession;
  authenticatorId: string;
  credentials(): Promise<VirtualCredential[]>;
  addCredential(credential: VirtualCredential): Promise<void>;
  removeCredential(credentialId: string): Promise<void>;
}

/**
 * A platform authenticator (internal transport, resident keys, user verification that always
 * succeeds, presence simulated) attached to `page`, as a laptop's fingerprint reader would be.
 */
export async function virtualAuthenticator(context: BrowserContext, page: Page): Promise<VirtualAuthenticator> {
  const cdp = await context.newCDPSession(page);
  await cdp.send('WebAuthn.enable');
  const { authenticatorId } = await cdp.send('WebAuthn.addVirtualAuthenticator', {
    options: {
      protocol: 'ctap2', transport: 'internal', hasResidentKey: true, hasUserVerification: true,
      isUserVerified: true, automaticPresenceSimulation: true,
    },
  });
  return {
    cdp,
    authenticatorId,
    async credentials() {
      const { credentials } = await cdp.send('WebAuthn.getCredentials', { authenticatorId });
      return credentials as VirtualCredential[];
    },
    async addCredential(credential) {
      await cdp.send('WebAuthn.addCredential', { authenticatorId, credential: credential as never });
    },
    async removeCredential(credentialId) {
      await cdp.send('WebAuthn.removeCredential', { authenticatorId, credentialId });
    },
  };
}

export const SCREENSHOT_DIR = join(ROOT, 'test-output', 'screenshots');

/** Full-page screenshot as test-output/screenshots/<test>-<step>.png. */
export async function screenshot(page: Page, test: string, step: string): Promise<string> {
  mkdirSync(SCREENSHOT_DIR, { recursive: true });
  const path = join(SCREENSHOT_DIR, `${test}-${step}.png`.replace(/[^a-zA-Z0-9._-]+/g, '_'));
  await page.screenshot({ path, fullPage: true });
  return path;
}

/** Console errors and uncaught page errors of every page of a context. */
export function collectConsoleErrors(context: BrowserContext, into: string[]): void {
  const watch = (page: Page) => {
    page.on('console', (msg) => {
      if (msg.type() === 'error') into.push(`${page.url()}: ${msg.text()}`);
    });
    page.on('pageerror', (err) => into.push(`${page.url()}: uncaught ${err.message}`));
  };
  context.pages().forEach(watch);
  context.on('page', watch);
}

/** A browser profile of its own (cookies, virtual authenticator), as one person at one device. */
export interface BrowserSession {
  context: BrowserContext;
  page: Page;
  authenticator: VirtualAuthenticator;
  /** The console errors of its pages (CSP violations among them). */
  errors: string[];
  /** A numbered screenshot of `page` (the session's own page by default) under `name`. */
  shot(step: string, page?: Page): Promise<void>;
  /** Closes the context; `afterClose` sees its errors (to collect or assert on them). */
  close(): Promise<void>;
}

export async function openBrowserSession(browser: Browser, name: string, options: { credential?: VirtualCredential; afterClose?: (errors: string[]) => void; locale?: string } = {}): Promise<BrowserSession> {
  // The locale sets the browser's Accept-Language and navigator.language, as a person's own browser does.
  const context = await browser.newContext(options.locale ? { locale: options.locale } : {});
  context.setDefaultTimeout(15_000);
  context.setDefaultNavigationTimeout(15_000);
  // Surface CSP violations as console errors even where Chromium would report them elsewhere.
  await context.addInitScript(() => {
    document.addEventListener('securitypolicyviolation', (e) => {
      console.error(`Content Security Policy violation: ${e.violatedDirective} blocked ${e.blockedURI || 'inline'}`);
    });
  });
  const errors: string[] = [];
  collectConsoleErrors(context, errors);
  const page = await context.newPage();
  const authenticator = await virtualAuthenticator(context, page);
  if (options.credential) await authenticator.addCredential(options.credential);
  let n = 0;
  return {
    context, page, authenticator, errors,
    async shot(step, on = page) {
      n += 1;
      await screenshot(on, name, `${String(n).padStart(2, '0')}-${step}`);
    },
    async close() {
      await context.close();
      options.afterClose?.(errors);
    },
  };
}

/**
 * After a sign-in step: allows the consent page when Vigil shows it (`onConsent` first, for a
 * screenshot), then waits until the browser is at the relying party's `redirectUri`; that URL.
 */
export async function untilRelyingParty(page: Page, redirectUri: string, onConsent?: () => Promise<unknown>): Promise<string> {
  const atRp = (url: URL) => url.href.startsWith(redirectUri);
  const consent = page.locator('#allow');
  const arrived = page.waitForURL(atRp).then(() => 'rp' as const);
  const asked = consent.waitFor().then(() => 'consent' as const);
  arrived.catch(() => {});
  asked.catch(() => {});
  if (await Promise.race([arrived, asked]) === 'consent' && !atRp(new URL(page.url()))) {
    await onConsent?.();
    await consent.click();
    await page.waitForURL(atRp);
  }
  return page.url();
}
