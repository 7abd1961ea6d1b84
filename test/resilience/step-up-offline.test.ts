import * as oidc from 'openid-client';
import { freePort, ROOT, vigilCli } from '../support/vigil-process.ts';
import { Browser, formAction, hiddenField, signIn } from '../support/browserless.ts';
import { Authenticator } from '../support/authenticator.ts';
import { browserAt, clientAt } from '../support/from-address.ts';
import { jsonCall, clientCredentialsToken } from '../support/json-api.ts';
import { discover, pkceAuthorization, startStack, type ClientOut, type Stack } from '../support/stack.ts';
import { openCore, type Core } from '../../src/core.ts';
import { COMMANDS } from '../../src/cli/commands.ts';
import { loadConfig } from '../../src/config/index.ts';
import { createLogger } from '../../src/observability/index.ts';

/**
 * A step-up required of a person covers every grant they hold, with or without a live browser
 * session: a password-only sign-in with offline_access, signed out, keeps a refresh token that
 * the requirement must refuse (CLI, admin API; with the risk engine on and off) until the person
 * signs in again at the level asked. And the risk engine's step-up on one session keeps binding
 * that session's tokens once the session has ended, without touching the person's other grants.
 */

const PASSWORD = 'correct horse battery staple 9';
const ONE = 'urn:vigil:acr:1fa';
const TWO = 'urn:vigil:acr:2fa';
const LONDON = '88.97.0.1';
const FIREFOX = 'Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0';
const CHROME_WINDOWS = 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36';

interface Deployment {
  stack: Stack;
  core: Core;
  web: ClientOut;
  other: ClientOut;
  spa: ClientOut;
  introspector: ClientOut;
}

interface Person {
  id: string;
  email: string;
  app: Authenticator;
}

let redirectUri: string;
let engineOn: Deployment;
let engineOff: Deployment;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const run = async <T>(core: Core, command: string, argv: string[]) => (await COMMANDS[command](core, argv)).data as T;

async function deployment(env: Record<string, string>): Promise<Deployment> {
  const stack = await startStack(env);
  const core = await openCore(loadConfig(stack.vigil.env, ROOT), createLogger('silent'));
  const [web, other, spa, introspector] = await Promise.all([
    run<ClientOut>(core, 'client create', ['--name', 'Mail', '--redirect-uri', redirectUri]),
    run<ClientOut>(core, 'client create', ['--name', 'Calendar', '--redirect-uri', redirectUri]),
    run<ClientOut>(core, 'client create', ['--name', 'SPA', '--public', '--redirect-uri', redirectUri]),
    run<ClientOut>(core, 'client create', ['--name', 'Token auditor', '--grant-type', 'client_credentials', '--introspect-any']),
  ]);
  return { stack, core, web, other, spa, introspector };
}

/** An account with an authenticator app (a password alone still signs in at 1fa unless more is asked). */
async function person(d: Deployment, name: string): Promise<Person> {
  const email = `${name}@vigil.test`;
  const { id } = await run<{ id: string }>(d.core, 'user create', ['--email', email, '--password', PASSWORD]);
  const { secret } = await d.core.totp.begin(id, email);
  const app = new Authenticator(secret);
  expect(await d.core.totp.confirm(id, await app.next())).toBe('ok');
  return { id, email, app };
}

/** Signs in through the pages for `client` with offline_access; the code is redeemed. */
async function signInTo(d: Deployment, browser: Browser, client: ClientOut, who: Person, options: { totp?: boolean } = {}) {
  const config = await discover(d.stack.vigil.issuer, client);
  const request = await pkceAuthorization(config, { redirect_uri: redirectUri, scope: 'openid offline_access', prompt: 'consent' });
  const seen: string[] = [];
  const callback = await signIn(browser, request.url, who.email, PASSWORD, redirectUri, { seen, ...(options.totp ? { totp: () => who.app.next() } : {}) });
  const tokens = await request.redeem(callback);
  expect(tokens.refresh_token).toBeTruthy();
  return { config, tokens, seen, claims: tokens.claims()! };
}

/** RP-initiated logout from the browser: the session ends, the offline grants stay (oidc-provider's default). */
async function signOut(d: Deployment, browser: Browser, config: oidc.Configuration, idToken: string) {
  const page = await browser.follow(oidc.buildEndSessionUrl(config, { id_token_hint: idToken }).toString());
  expect(page.status).toBe(200);
  const done = await browser.submit(page, '/session/end/confirm', { xsrf: hiddenField(page.body, 'xsrf'), logout: 'yes' });
  expect(done.status).toBe(200);
  // No session left: a new authorization request asks for the password.
  const again = await pkceAuthorization(config, { redirect_uri: redirectUri, scope: 'openid' });
  expect((await browser.follow(again.url)).body).toContain('name="password"');
}

/** The error of a refresh expected to fail (the test fails if it succeeds). */
async function refreshError(config: oidc.Configuration, refreshToken: string): Promise<{ error?: string; error_description?: string }> {
  const outcome = await oidc.refreshTokenGrant(config, refreshToken).then(() => undefined, (e: unknown) => e as { error?: string; error_description?: string });
  if (!outcome) throw new Error('the refresh was allowed');
  return { error: outcome.error, error_description: outcome.error_description };
}

/** Whether introspection calls the token active. */
async function active(d: Deployment, token: string): Promise<boolean> {
  return (await oidc.tokenIntrospection(await discover(d.stack.vigil.issuer, d.introspector), token)).active;
}

const STEP_UP_REFUSAL = { error: 'invalid_grant', error_description: `step-up authentication required: sign in again at ${TWO} through the authorization endpoint` };

beforeAll(async () => {
  redirectUri = `http://127.0.0.1:${await freePort()}/cb`;
  await Promise.all([
    deployment({ TRUST_PROXY: '127.0.0.1/32' }).then((d) => { engineOn = d; }),
    deployment({ VIGIL_RISK_ENGINE: 'false' }).then((d) => { engineOff = d; }),
  ]);
}, 120_000);

afterAll(async () => {
  await Promise.all([engineOn?.core.close(), engineOff?.core.close()]);
  await Promise.all([engineOn?.stack.stop(), engineOff?.stack.stop()]);
});

test('vigil user require-step-up: every grant is refused at refresh, signed out or not, until the person signs in again at 2fa', async () => {
  const d = engineOn;
  const ada = await person(d, 'ada');
  // Two grants from one password-only sign-in, then the browser signs out.
  const laptop = new Browser();
  const mail = await signInTo(d, laptop, d.web, ada);
  expect(mail.claims.acr).toBe(ONE);
  const calendar = await signInTo(d, laptop, d.other, ada);
  expect(calendar.seen).not.toContain('login');
  const mailRefreshed = await oidc.refreshTokenGrant(mail.config, mail.tokens.refresh_token!);
  // And a browser still signed in elsewhere.
  const phone = new Browser();
  const onPhone = await signInTo(d, phone, d.web, ada);
  await signOut(d, laptop, mail.config, mail.tokens.id_token!);
  await sleep(1100); // the requirement's time is in whole seconds: after these sign-ins

  const required = await vigilCli<{ acr: string; since: string; grants: number; sessions: number }>(
    d.stack.env, ['user', 'require-step-up', '--email', ada.email, '--acr', TWO],
  );
  // The signed-out grants: refused, and still refused (the refusal consumes nothing, and for good).
  expect(await refreshError(mail.config, mailRefreshed.refresh_token!)).toEqual(STEP_UP_REFUSAL);
  expect(await refreshError(calendar.config, calendar.tokens.refresh_token!)).toEqual(STEP_UP_REFUSAL);
  // What it covers: three grants (two of them without a live session), one live session.
  expect(required).toMatchObject({ acr: TWO, grants: 3, sessions: 1 });
  expect(Date.parse(required.since)).toBeLessThanOrEqual(Date.now());
  expect(await refreshError(mail.config, mailRefreshed.refresh_token!)).toEqual(STEP_UP_REFUSAL);
  expect(await refreshError(onPhone.config, onPhone.tokens.refresh_token!)).toEqual(STEP_UP_REFUSAL);
  // As with a session's step-up (the risk engine's test below), introspection answers as stored: refused at /token, not revoked.
  expect(await active(d, calendar.tokens.refresh_token!)).toBe(true);

  // The live session's next authorization request asks for the second factor alone.
  const stepped = await signInTo(d, phone, d.web, ada, { totp: true });
  expect(stepped.seen[0]).toBe('factor');
  expect(stepped.seen).not.toContain('login');
  expect(stepped.claims.acr).toBe(TWO);
  expect((await oidc.refreshTokenGrant(stepped.config, stepped.tokens.refresh_token!)).access_token).toBeTruthy();

  // Met: a later password-only sign-in asks for nothing more, and its tokens refresh.
  const later = await signInTo(d, new Browser(), d.other, ada);
  expect(later.seen).toEqual(['login', 'consent']);
  expect(later.claims.acr).toBe(ONE);
  expect((await oidc.refreshTokenGrant(later.config, later.tokens.refresh_token!)).access_token).toBeTruthy();
  // What predates the requirement stays refused.
  expect(await refreshError(calendar.config, calendar.tokens.refresh_token!)).toEqual(STEP_UP_REFUSAL);
  expect(await refreshError(onPhone.config, onPhone.tokens.refresh_token!)).toEqual(STEP_UP_REFUSAL);
}, 120_000);

test('admin API step-up of a person with no live session: refused, until a new sign-in at 2fa, whose tokens refresh', async () => {
  const d = engineOn;
  const bob = await person(d, 'bob');
  const ops = await run<ClientOut>(d.core, 'client create', [
    '--name', 'Ops bot', '--grant-type', 'client_credentials', '--allow-resource', `${d.stack.vigil.issuer}/admin/api`, '--scope', 'admin',
  ]);
  const adminApi = `${d.stack.vigil.issuer}/admin/api`;
  const token = await clientCredentialsToken(d.stack.vigil.issuer, ops, adminApi, 'admin');
  const browser = new Browser();
  const before = await signInTo(d, browser, d.web, bob);
  await signOut(d, browser, before.config, before.tokens.id_token!);
  await sleep(1100);

  const answer = await jsonCall(adminApi, 'POST', `/accounts/${bob.id}/step-up`, token, { reason: 'phished', acr: TWO });
  expect(answer.status).toBe(200);
  expect(await refreshError(before.config, before.tokens.refresh_token!)).toEqual(STEP_UP_REFUSAL);
  expect(answer.body).toEqual({ acr: TWO, since: expect.any(String), grants: 1, sessions: 0 });
  const owed = (await jsonCall(adminApi, 'GET', `/accounts/${bob.id}`, token)).body.stepUpRequired;
  expect(owed).toEqual([{ acr: TWO, reason: 'phished', since: expect.any(String), session: null, metAt: null }]);
  // The answer's time is the one authentications are compared with: whole seconds.
  expect(Math.floor(Date.parse(owed[0].since) / 1000) * 1000).toBe(Date.parse(answer.body.since));

  // The next sign-in, although the client asks for no more than a password, needs the second factor.
  const after = await signInTo(d, new Browser(), d.web, bob, { totp: true });
  expect(after.seen).toEqual(['login', 'factor', 'consent']);
  expect(after.claims.acr).toBe(TWO);
  expect((await oidc.refreshTokenGrant(after.config, after.tokens.refresh_token!)).access_token).toBeTruthy();
  expect(await refreshError(before.config, before.tokens.refresh_token!)).toEqual(STEP_UP_REFUSAL);
  const met = (await jsonCall(adminApi, 'GET', `/accounts/${bob.id}`, token)).body.stepUpRequired;
  expect(met).toEqual([expect.objectContaining({ session: null, metAt: expect.any(String) })]);
}, 120_000);

test('with the risk engine off, the provider\'s own refresh check refuses a signed-out grant alike', async () => {
  const d = engineOff;
  const cy = await person(d, 'cy');
  const browser = new Browser();
  const before = await signInTo(d, browser, d.web, cy);
  await signOut(d, browser, before.config, before.tokens.id_token!);
  await sleep(1100);
  const required = await vigilCli<{ grants: number; sessions: number }>(d.stack.env, ['user', 'require-step-up', '--email', cy.email]);
  expect(await refreshError(before.config, before.tokens.refresh_token!)).toEqual(STEP_UP_REFUSAL);
  expect(required).toMatchObject({ acr: TWO, grants: 1, sessions: 0 });

  const after = await signInTo(d, new Browser(), d.web, cy, { totp: true });
  expect(after.seen).toContain('factor');
  expect((await oidc.refreshTokenGrant(after.config, after.tokens.refresh_token!)).access_token).toBeTruthy();
  expect(await refreshError(before.config, before.tokens.refresh_token!)).toEqual(STEP_UP_REFUSAL);
}, 120_000);

test('the risk engine\'s step-up binds the session it judged after that session has ended, and only that session', async () => {
  const d = engineOn;
  const dee = await person(d, 'dee');
  const issuer = d.stack.vigil.issuer;
  const from = (userAgent: string) => clientAt(issuer, d.spa, LONDON, userAgent);
  const signInFrom = async () => {
    const browser = browserAt(LONDON, FIREFOX);
    const config = await discover(issuer, d.spa);
    const request = await pkceAuthorization(config, { redirect_uri: redirectUri, scope: 'openid offline_access', prompt: 'consent' });
    const tokens = await request.redeem(await signIn(browser, request.url, dee.email, PASSWORD, redirectUri));
    return { browser, config, tokens };
  };
  const judged = await signInFrom();
  const elsewhere = await signInFrom();
  // The app refreshes from Firefox (the session's agent), then the browser signs out.
  const legit = await oidc.refreshTokenGrant(await from(FIREFOX), judged.tokens.refresh_token!);
  await signOut(d, judged.browser, judged.config, judged.tokens.id_token!);
  // The next token turns up in another browser: the shipped policy asks for a step-up.
  const stolen = await refreshError(await from(CHROME_WINDOWS), legit.refresh_token!);
  expect(stolen).toMatchObject({ error: 'invalid_grant', error_description: expect.stringMatching(/^step-up authentication required: this refresh looks unusual/) });
  // Bound to the ended session's grant: refused back in the app too.
  expect(await refreshError(await from(FIREFOX), legit.refresh_token!)).toMatchObject({
    error: 'invalid_grant', error_description: expect.stringMatching(/^step-up authentication required/),
  });
  expect(await active(d, legit.refresh_token!)).toBe(true);
  // A step-up the engine decided for one session is no verdict on the person: another session's grant refreshes.
  expect((await oidc.refreshTokenGrant(await from(FIREFOX), elsewhere.tokens.refresh_token!)).access_token).toBeTruthy();
}, 120_000);

test('a person with no second factor who owes a 2fa step-up: the sign-in page says so (403), no code', async () => {
  const d = engineOff;
  const email = 'eli@vigil.test';
  await run(d.core, 'user create', ['--email', email, '--password', PASSWORD]);
  await vigilCli(d.stack.env, ['user', 'require-step-up', '--email', email]);
  const config = await discover(d.stack.vigil.issuer, d.web);
  const request = await pkceAuthorization(config, { redirect_uri: redirectUri, scope: 'openid' });
  const browser = new Browser();
  const login = await browser.follow(request.url);
  const answer = await browser.submit(login, formAction(login.body, '/login'), { csrf: hiddenField(login.body, 'csrf'), email, password: PASSWORD });
  expect(answer.status).toBe(403);
  expect(answer.body).toContain('This account must sign in with a stronger factor now, but none is set up.');
}, 60_000);
