/** Getting a browser session into the admin console: a password sign-in on /account, a passkey added there, then /admin with the passkey alone. */
import type { Browser } from 'playwright-core';
import { launchChromium, openBrowserSession, type BrowserSession, type VirtualCredential } from './chromium.ts';
import { Browser as FormBrowser, signIn as formSignIn } from './browserless.ts';
import { ADMIN, discover, pkceAuthorization, startStack, type ClientOut, type Stack } from './stack.ts';
import { freePort, vigilCli } from './vigil-process.ts';

export async function enterPassword(s: BrowserSession, email: string, password: string): Promise<void> {
  await s.page.locator('#email').waitFor();
  await s.page.fill('#email', email);
  await s.page.fill('#password', password);
  await s.page.click('#sign-in');
}

/** Password sign-in on /account, then a passkey added there (as a person sets one up); the passkey as the authenticator holds it. */
export async function registerPasskey(s: BrowserSession, origin: string, email: string, password: string): Promise<VirtualCredential> {
  await s.page.goto(`${origin}/account`);
  await enterPassword(s, email, password);
  await s.page.locator('#account-email').waitFor();
  await s.page.fill('#passkey-name', `${email} laptop`);
  await s.page.click('#add-passkey');
  await s.page.locator('#passkeys').waitFor();
  const [credential] = await s.authenticator.credentials();
  return credential;
}

/**
 * From a browser signed in with a password: /admin asks for the passkey alone, then shows the
 * console (or, with `ready`, whatever page that selector marks, e.g. a refusal).
 */
export async function stepUpIntoConsole(s: BrowserSession, origin: string, path = '/admin', ready = '#console-user'): Promise<void> {
  await s.page.goto(`${origin}${path}`);
  await s.page.locator('#use-passkey').waitFor();
  await s.page.click('#use-passkey');
  await s.page.locator(ready).waitFor();
}

/** A relying party's side: a person signs in with a password (no browser) and gets tokens, a refresh token among them. */
export async function rpSignIn(issuer: string, client: ClientOut, redirectUri: string, email: string, password: string) {
  const config = await discover(issuer, client);
  const request = await pkceAuthorization(config, { redirect_uri: redirectUri, scope: 'openid email offline_access', prompt: 'consent' });
  const callback = await formSignIn(new FormBrowser(), request.url, email, password, redirectUri);
  const tokens = await request.redeem(callback);
  return { config, tokens, claims: tokens.claims()! };
}

export interface ConsoleStack {
  browser: Browser;
  stack: Stack;
  origin: string;
  /** A relying party's redirect URI on localhost (nothing listens there) and its client, "Relying Party". */
  redirectUri: string;
  web: ClientOut;
  /** The first administrator, in the console with a passkey. */
  admin: BrowserSession;
  /** Closes the administrator's browser session, the browser and the stack. */
  stop(): Promise<void>;
}

/**
 * One Vigil on http://localhost (WebAuthn refuses IP addresses) and Chromium, with a relying party
 * and the first administrator signed in to the console with a passkey (browser session `name`).
 */
export async function startConsoleStack(name: string): Promise<ConsoleStack> {
  const redirectUri = `http://localhost:${await freePort()}/cb`;
  const [browser, stack] = await Promise.all([launchChromium(), startStack({}, { issuerHost: 'localhost' })]);
  const origin = stack.instances[0].issuer;
  let admin: BrowserSession | undefined;
  const stop = async () => {
    await admin?.close();
    await browser.close();
    await stack.stop();
  };
  try {
    const web = await vigilCli<ClientOut>(stack.env, ['client', 'create', '--name', 'Relying Party', '--redirect-uri', redirectUri]);
    admin = await openBrowserSession(browser, name);
    await registerPasskey(admin, origin, ADMIN.email, ADMIN.password);
    await stepUpIntoConsole(admin, origin);
    return { browser, stack, origin, redirectUri, web, admin, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}
