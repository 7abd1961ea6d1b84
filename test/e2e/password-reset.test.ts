/**
 * Issue 18, "forgot password", in Chromium on the real pages: a person with a password and a
 * passkey (Chromium's virtual authenticator) is signed in to an application. In a second browser
 * (holding the same passkey, as a synced one would be) they choose "Forgot password?", get the
 * mail from an in-process SMTP server, open its link, set a new password, sign in with it and are
 * asked for the passkey; the first browser's session and the application's refresh token are gone.
 *
 * WebAuthn refuses IP addresses as RP IDs, so the issuer and every page are http://localhost.
 */
import * as oidc from 'openid-client';
import { vigilCli } from '../support/vigil-process.ts';
import { discover, pkceAuthorization, type ClientOut } from '../support/stack.ts';
import { startBrowserStack, type BrowserStack } from '../support/browser-stack.ts';
import { openBrowserSession, untilRelyingParty, type BrowserSession } from '../support/chromium.ts';
import { Mailbox } from '../support/mailbox.ts';

const PASSWORD = 'correct horse battery staple 9';
const NEW_PASSWORD = 'my new and better passphrase 7';
const EMAIL = 'nina@vigil.test';
const TEST_TIMEOUT = 90_000;

const mailbox = new Mailbox();
let stack: BrowserStack;
let origin: string;
let web: ClientOut;
const sessions: BrowserSession[] = [];

const atRp = (url: URL) => url.href.startsWith(stack.redirectUri);

/** Where the browser lands after a sign-in step: the application, or the consent page (allowed). */
const reachRp = (b: BrowserSession) => untilRelyingParty(b.page, stack.redirectUri);

async function signInWithPassword(b: BrowserSession, password: string) {
  await b.page.locator('#password').waitFor();
  await b.page.fill('#email', EMAIL);
  await b.page.fill('#password', password);
  await b.page.click('#sign-in');
}

beforeAll(async () => {
  await mailbox.start();
  stack = await startBrowserStack(mailbox.env);
  origin = stack.vigil.issuer;
  await vigilCli(stack.env, ['user', 'create', '--email', EMAIL, '--password', PASSWORD]);
  web = await vigilCli<ClientOut>(stack.env, ['client', 'create', '--name', 'Web App', '--redirect-uri', stack.redirectUri, '--grant-type', 'authorization_code', '--grant-type', 'refresh_token']);
}, 120_000);

afterAll(async () => {
  for (const s of sessions) await s.close();
  await stack?.stop();
  await mailbox.stop();
}, 60_000);

/** A new authorization request of the application (a refresh token: offline_access). */
const authorization = async (scope = 'openid offline_access') => pkceAuthorization(await discover(origin, web), { redirect_uri: stack.redirectUri, scope, prompt: 'consent' });

test('forgot password: the mailed link sets a new password, the passkey is still asked, the older session is gone', async () => {
  // The first browser: a passkey added on /account, then signed in to the application.
  const first = await openBrowserSession(stack.browser, 'password-reset-first');
  sessions.push(first);
  await first.page.goto(`${origin}/account`);
  await signInWithPassword(first, PASSWORD);
  await first.page.locator('#account-email').waitFor();
  await first.page.fill('#passkey-name', 'Nina laptop');
  await first.page.click('#add-passkey');
  await first.page.locator('#notice', { hasText: 'Passkey added.' }).waitFor();
  const [passkey] = await first.authenticator.credentials();
  expect(passkey).toBeDefined();
  const app = await authorization();
  await first.page.goto(app.url);
  await reachRp(first);
  const before = await app.redeem(first.page.url());
  expect(before.refresh_token).toBeTruthy();

  // The second browser: "Forgot password?" on the sign-in page.
  const second = await openBrowserSession(stack.browser, 'password-reset-second', { credential: passkey });
  sessions.push(second);
  const next = await authorization();
  await second.page.goto(next.url);
  await second.page.click('#forgot-password');
  await second.page.locator('h1', { hasText: 'Forgot password' }).waitFor();
  await second.shot('forgot');
  await second.page.fill('#email', EMAIL);
  await second.page.click('#send-link');
  await second.page.locator('#reset-sent').waitFor();
  await second.shot('sent');
  const mail = await mailbox.next(EMAIL, 0);
  const link = mail.links[0];
  expect(link.startsWith(`${origin}/password/reset?token=`)).toBe(true);

  await second.page.goto(link);
  await second.page.locator('#reset-email', { hasText: EMAIL }).waitFor();
  await second.shot('reset-form');
  await second.page.fill('#password', NEW_PASSWORD);
  await second.page.fill('#confirm', NEW_PASSWORD);
  await second.page.click('#set-password');
  await second.page.locator('#link-done', { hasText: 'Your password was changed' }).waitFor();
  await second.shot('done');

  // Signing in with the new password asks for the passkey (the application asks for one factor only).
  const after = await authorization();
  await second.page.goto(after.url);
  await signInWithPassword(second, NEW_PASSWORD);
  await second.page.locator('#use-passkey').waitFor();
  await second.shot('passkey-asked');
  await second.page.click('#use-passkey');
  await reachRp(second);
  const claims = (await after.redeem(second.page.url())).claims()!;
  expect(claims.amr).toEqual(expect.arrayContaining(['pwd', 'mfa']));
  expect(claims.acr).not.toBe('urn:vigil:acr:1fa');

  // The first browser's session and the application's refresh token are gone.
  await expect(oidc.refreshTokenGrant(app.config, before.refresh_token!)).rejects.toMatchObject({ error: 'invalid_grant' });
  const again = await authorization('openid');
  await first.page.goto(again.url);
  await first.page.locator('#password').waitFor();
  await first.shot('signed-out');
  expect(atRp(new URL(first.page.url()))).toBe(false);
  expect(first.errors).toEqual([]);
  expect(second.errors).toEqual([]);
}, TEST_TIMEOUT);
