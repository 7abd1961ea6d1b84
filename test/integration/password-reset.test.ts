/**
 * "Forgot password" and email verification over HTTP, as a person and a relying party meet them:
 * the forgot page answers the same for any address and is rate-limited per address typed and per
 * client address; the mail (from an in-process SMTP server) carries a single-use, expiring link
 * whose GET changes nothing; a weak password changes nothing; a new password ends every session
 * and grant (openid-client: refresh invalid_grant, introspection inactive), queues CAEP
 * credential-change, and a person with a second factor must still present it; used, expired,
 * replaced and forged links get a readable 4xx page. An address proved through /account's link is
 * `email_verified` in the ID token and userinfo.
 */
import * as oidc from 'openid-client';
import { decodeJwt } from 'jose';
import { freePort, vigilCli } from '../support/vigil-process.ts';
import { Browser, formAction, hiddenField, signIn, type Page } from '../support/browserless.ts';
import { Authenticator, enrolmentKey } from '../support/authenticator.ts';
import { discover, pkceAuthorization, startStack, type ClientOut, type Stack } from '../support/stack.ts';
import { clientCredentialsToken, jsonCall } from '../support/json-api.ts';
import { queryDatabase } from '../support/services.ts';
import { Mailbox } from '../support/mailbox.ts';

const PASSWORD = 'correct horse battery staple 9';
const NEW_PASSWORD = 'a brand new passphrase 42';
const CREDENTIAL_CHANGE = 'https://schemas.openid.net/secevent/caep/event-type/credential-change';
const email = (name: string) => `${name}@vigil.test`;

const mailbox = new Mailbox();
let stack: Stack;
let issuer: string;
let redirectUri: string;
let rp: ClientOut;
let introspector: ClientOut;
const ids: Record<string, string> = {};

/** The login page of a fresh authorization request of the RP. */
async function loginPage(browser: Browser): Promise<Page> {
  const config = await discover(issuer, rp);
  const request = await pkceAuthorization(config, { redirect_uri: redirectUri, scope: 'openid' });
  const page = await browser.follow(request.url);
  expect(page.body).toContain('id="forgot-password"');
  return page;
}

/** "Forgot password?" from the login page for `address`, from client address `from`. */
async function forgot(address: string, from: string, browser = new Browser()): Promise<Page> {
  const login = await loginPage(browser);
  const href = /href="([^"]*\/forgot)"/.exec(login.body)![1];
  const form = await browser.follow(new URL(href, login.url).toString());
  expect(form.status).toBe(200);
  return browser.request(new URL(formAction(form.body, '/forgot'), form.url).toString(), {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-forwarded-for': from },
    body: new URLSearchParams({ csrf: hiddenField(form.body, 'csrf'), email: address }).toString(),
  });
}

/** Asks for a reset of `name`'s password and returns the link of the mail that arrives. */
async function resetLink(name: string, from: string): Promise<string> {
  const seen = mailbox.to(email(name)).length;
  expect((await forgot(email(name), from)).status).toBe(200);
  const mail = await mailbox.next(email(name), seen);
  expect(mail.subject).toBe('Choose a new password for Vigil');
  const link = mail.links[0];
  expect(mail.text).toContain(link);
  expect(link).toMatch(new RegExp(`^${issuer}/password/reset\\?token=[A-Za-z0-9_-]{43}$`));
  return link;
}

/** Opens the link and submits the new password twice (or `confirm`). */
async function submitReset(browser: Browser, link: string, password: string, confirm = password): Promise<Page> {
  const form = await browser.follow(link);
  expect(form.status).toBe(200);
  return browser.submit(form, formAction(form.body, '/password/reset'), {
    csrf: hiddenField(form.body, 'csrf'), token: hiddenField(form.body, 'token'), password, confirm,
  });
}

/** Signs `name` in to the RP (offline_access: a refresh token) with `password`. */
async function authorizeRp(name: string, password: string, options: { totp?: () => Promise<string>; seen?: string[]; scope?: string } = {}) {
  const config = await discover(issuer, rp);
  const request = await pkceAuthorization(config, { redirect_uri: redirectUri, scope: options.scope ?? 'openid offline_access', prompt: 'consent' });
  const callback = await signIn(new Browser(), request.url, email(name), password, redirectUri, options);
  const tokens = await request.redeem(callback);
  return { config, tokens };
}

async function signInFails(name: string, password: string): Promise<string> {
  const browser = new Browser();
  const login = await loginPage(browser);
  const page = await browser.submit(login, formAction(login.body, '/login'), { csrf: hiddenField(login.body, 'csrf'), email: email(name), password });
  expect(page.status).toBe(401);
  return page.body;
}

async function openAccount(browser: Browser, name: string, password: string): Promise<Page> {
  let page = await browser.follow(`${issuer}/account`);
  if (page.body.includes('name="password"')) {
    page = await browser.submit(page, formAction(page.body, '/login'), { csrf: hiddenField(page.body, 'csrf'), email: email(name), password });
  }
  expect(page.body).toContain(`id="account-email">${email(name)}<`);
  return page;
}

const audit = (action: string) => queryDatabase<{ actor: string; outcome: string; details: Record<string, unknown> }>(
  stack.db.url, 'SELECT actor, outcome, details FROM audit_log WHERE action = $1 ORDER BY seq', [action]);

beforeAll(async () => {
  await mailbox.start();
  redirectUri = `http://127.0.0.1:${await freePort()}/cb`;
  stack = await startStack({
    ...mailbox.env, TRUST_PROXY: '127.0.0.1/32', VIGIL_RECOVERY_MAX_PER_EMAIL: '3', VIGIL_RECOVERY_MAX_PER_IP: '5',
    // The ID token's email_verified follows a change at once (otherwise within this many seconds).
    VIGIL_METADATA_CACHE_SECONDS: '0',
  });
  issuer = stack.vigil.issuer;
  const people = ['ada', 'bob', 'cy', 'dan', 'eve', 'fay', 'gus'];
  const created = await Promise.all(people.map((p) => vigilCli<{ id: string }>(stack.env, ['user', 'create', '--email', email(p), '--password', PASSWORD])));
  people.forEach((p, i) => { ids[p] = created[i].id; });
  [rp, introspector] = await Promise.all([
    vigilCli<ClientOut>(stack.env, ['client', 'create', '--name', 'RP', '--redirect-uri', redirectUri, '--grant-type', 'authorization_code',
      '--grant-type', 'refresh_token', '--grant-type', 'client_credentials', '--allow-resource', `${issuer}/ssf`, '--scope', 'ssf:stream']),
    vigilCli<ClientOut>(stack.env, ['client', 'create', '--name', 'Introspector', '--grant-type', 'client_credentials', '--introspect-any']),
  ]);
}, 90_000);

afterAll(async () => {
  await stack?.stop();
  await mailbox.stop();
});

test('the forgot page answers the same for an unknown address; only a known, enabled account gets a mail', async () => {
  // A slow mail server does not slow the answer for a real account: the mail goes after it.
  mailbox.delayMs = 3000;
  const started = Date.now();
  const known = await forgot(email('ada'), '10.0.1.1');
  expect(Date.now() - started).toBeLessThan(2000);
  mailbox.delayMs = 0;
  const unknown = await forgot('nobody@vigil.test', '10.0.1.2');
  await vigilCli(stack.env, ['user', 'disable', '--email', email('fay')]);
  const disabled = await forgot(email('fay'), '10.0.1.3');
  for (const page of [known, unknown, disabled]) expect(page.status).toBe(200);
  const normalise = (page: Page, address: string) => page.body.replace(address, 'ADDRESS').replace(/interaction\/[^/"]+/g, 'interaction/UID');
  expect(normalise(unknown, 'nobody@vigil.test')).toBe(normalise(known, email('ada')));
  expect(normalise(disabled, email('fay'))).toBe(normalise(known, email('ada')));
  expect(known.body).toContain('id="reset-sent"');

  await mailbox.next(email('ada'), 0);
  // The unknown and disabled requests were handled too (audited), and sent nothing.
  const until = Date.now() + 5000;
  while ((await audit('password_reset.requested')).length < 3 && Date.now() < until) await new Promise((r) => setTimeout(r, 50));
  const requested = await audit('password_reset.requested');
  expect(requested.map((e) => [e.actor, e.outcome, e.details?.reason ?? null]).sort()).toEqual([
    [ids.ada, 'success', null], [ids.fay, 'failure', 'account_disabled'], ['nobody@vigil.test', 'failure', 'unknown_account'],
  ].sort());
  expect(mailbox.to('nobody@vigil.test')).toHaveLength(0);
  expect(mailbox.to(email('fay'))).toHaveLength(0);

  // A bad form: CSRF missing, or no address.
  const browser = new Browser();
  const login = await loginPage(browser);
  const form = await browser.follow(new URL(/href="([^"]*\/forgot)"/.exec(login.body)![1], login.url).toString());
  const action = new URL(formAction(form.body, '/forgot'), form.url).toString();
  const post = (fields: Record<string, string>) => browser.request(action, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams(fields).toString() });
  expect((await post({ email: email('ada') })).status).toBe(400);
  const empty = await post({ csrf: hiddenField(form.body, 'csrf'), email: 'not an address' });
  expect(empty.status).toBe(400);
  expect(empty.body).toContain('Enter your email address.');
}, 30_000);

test('rate limits: per address typed (known or not, from any client address) and per client address', async () => {
  for (const address of [email('bob'), 'ghost@vigil.test']) {
    for (let i = 0; i < 3; i++) expect((await forgot(address, `10.0.2.${i + 10}`)).status).toBe(200);
    const refused = await forgot(address, '10.0.2.99');
    expect(refused.status).toBe(429);
    expect(Number(refused.headers!.get('retry-after'))).toBeGreaterThan(0);
    expect(refused.body).toContain('Too many requests for a new password');
  }
  await mailbox.next(email('bob'), 2);
  expect(mailbox.to(email('bob'))).toHaveLength(3);

  // One client address, many addresses typed: the sixth is refused, whatever the address.
  for (let i = 0; i < 5; i++) expect((await forgot(`someone${i}@vigil.test`, '10.0.3.1')).status).toBe(200);
  const refused = await forgot('someone9@vigil.test', '10.0.3.1');
  expect(refused.status).toBe(429);
  expect(await forgot('someone9@vigil.test', '10.0.3.2')).toMatchObject({ status: 200 });
  expect((await audit('password_reset.requested')).filter((e) => e.details?.reason === 'rate_limited').map((e) => e.details.limit).sort())
    .toEqual(['address', 'email', 'email']);
}, 60_000);

test('a reset ends every session and grant, queues credential-change, keeps the second factor and proves the address', async () => {
  // cy has an authenticator app, a stream follows cy, and cy holds a grant with a refresh token.
  const accountBrowser = new Browser();
  const account = await openAccount(accountBrowser, 'cy', PASSWORD);
  const enrol = await accountBrowser.submit(account, '/account/totp/begin', { csrf: hiddenField(account.body, 'csrf') });
  const app = new Authenticator(enrolmentKey(enrol.body));
  expect((await accountBrowser.submit(enrol, '/account/totp/confirm', { csrf: hiddenField(enrol.body, 'csrf'), code: await app.next() })).status).toBe(200);
  const seenBefore: string[] = [];
  const before = await authorizeRp('cy', PASSWORD, { totp: () => app.next(), seen: seenBefore });
  // The RP asks for one factor: a password alone signs cy in.
  expect(seenBefore).not.toContain('factor');
  expect(before.tokens.claims()!.email_verified).toBeUndefined();
  const introspect = await discover(issuer, introspector);
  expect((await oidc.tokenIntrospection(introspect, before.tokens.refresh_token!)).active).toBe(true);

  const ssfToken = await clientCredentialsToken(issuer, rp, `${issuer}/ssf`, 'ssf:stream');
  const stream = await jsonCall(issuer, 'POST', '/ssf/stream', ssfToken, { delivery: { method: 'urn:ietf:rfc:8936' }, events_requested: [CREDENTIAL_CHANGE] });
  expect(stream.status).toBe(201);
  expect((await jsonCall(issuer, 'POST', '/ssf/subjects/add', ssfToken, { stream_id: stream.body.stream_id, subject: { format: 'email', email: email('cy') } })).status).toBe(200);

  const link = await resetLink('cy', '10.0.4.1');
  const browser = new Browser();
  // Opening the link (a mail scanner, then the person) uses nothing; the page sends no Referer.
  const first = await browser.request(link);
  expect(first.status).toBe(200);
  const opened = await browser.request(link);
  expect(opened.status).toBe(200);
  expect(opened.body).toContain(`id="reset-email">${email('cy')}<`);
  const headers = (await fetch(link)).headers;
  expect(headers.get('referrer-policy')).toBe('no-referrer');
  expect(headers.get('cache-control')).toBe('no-store');

  // A weak password, or two that differ: refused, nothing changed, the link still works.
  const weak = await submitReset(browser, link, 'short');
  expect(weak.status).toBe(400);
  expect(weak.body).toContain('The new password must be at least 12 characters.');
  const differ = await submitReset(browser, link, NEW_PASSWORD, `${NEW_PASSWORD}!`);
  expect(differ.status).toBe(400);
  expect(differ.body).toContain('The two passwords are not the same.');
  expect((await oidc.tokenIntrospection(introspect, before.tokens.refresh_token!)).active).toBe(true);
  await signInFails('cy', NEW_PASSWORD);
  // A form that did not come from this browser's page.
  const foreign = await new Browser().submit(opened, '/password/reset', { csrf: hiddenField(opened.body, 'csrf'), token: hiddenField(opened.body, 'token'), password: NEW_PASSWORD, confirm: NEW_PASSWORD });
  expect(foreign.status).toBe(403);

  const done = await submitReset(browser, link, NEW_PASSWORD);
  expect(done.status).toBe(200);
  expect(done.body).toContain('Your password was changed');

  // Every grant and session of cy is gone.
  await expect(oidc.refreshTokenGrant(before.config, before.tokens.refresh_token!)).rejects.toMatchObject({ error: 'invalid_grant' });
  expect((await oidc.tokenIntrospection(introspect, before.tokens.refresh_token!)).active).toBe(false);
  expect((await oidc.tokenIntrospection(introspect, before.tokens.access_token)).active).toBe(false);
  expect((await accountBrowser.follow(`${issuer}/account`)).body).not.toContain('id="account-email"');
  const [revoked] = (await audit('revocation.account')).filter((e) => e.actor === ids.cy && e.details.reason === 'password reset');
  expect(revoked.details).toMatchObject({ initiator: 'user' });
  expect((await audit('password_reset.completed')).find((e) => e.actor === ids.cy)?.details).toEqual({ secondFactorRequired: true });

  // The stream got credential-change (password, update, by the user).
  const poll = await jsonCall(issuer, 'POST', `/ssf/poll/${stream.body.stream_id}`, ssfToken, { returnImmediately: true, maxEvents: 50 });
  const events = Object.values(poll.body.sets as Record<string, string>).map((set) => decodeJwt(set) as { sub_id: { sub: string }; events: Record<string, Record<string, unknown>> });
  const change = events.find((e) => e.sub_id.sub === ids.cy && CREDENTIAL_CHANGE in e.events && e.events[CREDENTIAL_CHANGE].credential_type === 'password');
  expect(change?.events[CREDENTIAL_CHANGE]).toMatchObject({ credential_type: 'password', change_type: 'update', initiating_entity: 'user' });

  // The link is used; the old password is refused; the new one signs in, and asks for the app.
  const reused = await browser.follow(link);
  expect(reused.status).toBe(410);
  expect(reused.body).toContain('This link was already used');
  const reusedPost = await browser.submit(opened, '/password/reset', { csrf: hiddenField(opened.body, 'csrf'), token: hiddenField(opened.body, 'token'), password: NEW_PASSWORD, confirm: NEW_PASSWORD });
  expect(reusedPost.status).toBe(410);
  await signInFails('cy', PASSWORD);
  const seen: string[] = [];
  const after = await authorizeRp('cy', NEW_PASSWORD, { totp: () => app.next(), seen, scope: 'openid email offline_access' });
  expect(seen).toContain('factor');
  expect(after.tokens.claims()).toMatchObject({ acr: 'urn:vigil:acr:2fa', email_verified: true });
}, 60_000);

test('expired, replaced and forged links get a readable 4xx page and change nothing', async () => {
  const older = await resetLink('dan', '10.0.5.1');
  const newer = await resetLink('dan', '10.0.5.2');
  const browser = new Browser();
  const replaced = await browser.follow(older);
  expect(replaced.status).toBe(404);
  expect(replaced.body).toContain('replaced by a newer link');

  await queryDatabase(stack.db.url, "UPDATE email_links SET expires_at = now() - interval '1 second' WHERE account_id = $1", [ids.dan]);
  const expired = await browser.follow(newer);
  expect(expired.status).toBe(410);
  expect(expired.body).toContain('This link has expired');
  expect(expired.body).toContain('Forgot password?');

  for (const forged of [`${issuer}/password/reset?token=${'A'.repeat(43)}`, `${issuer}/password/reset?token=cut`, `${issuer}/password/reset`]) {
    const page = await browser.follow(forged);
    expect(page.status).toBe(404);
    expect(page.body).toContain('This link is not valid');
    expect(page.body).not.toMatch(/stack|Error:/);
  }
  // The password is what it was.
  await authorizeRp('dan', PASSWORD);
}, 30_000);

test('an address confirmed through /account is email_verified in the ID token and userinfo', async () => {
  const before = await authorizeRp('eve', PASSWORD, { scope: 'openid email' });
  expect(before.tokens.claims()).toMatchObject({ email: email('eve'), email_verified: false });

  const browser = new Browser();
  const account = await openAccount(browser, 'eve', PASSWORD);
  expect(account.body).toContain('Your email address is not confirmed yet.');
  const sent = await browser.submit(account, formAction(account.body, '/account/email/verify'), { csrf: hiddenField(account.body, 'csrf') });
  expect(sent.body).toContain('A confirmation link is on its way');
  const mail = await mailbox.next(email('eve'), 0);
  expect(mail.subject).toBe('Confirm your email address for Vigil');
  const link = mail.links[0];
  expect(link).toMatch(new RegExp(`^${issuer}/email/verify\\?token=`));

  // Opening it confirms nothing yet; the button does.
  const page = await browser.follow(link);
  expect(page.status).toBe(200);
  expect((await browser.follow(link)).status).toBe(200);
  expect((await authorizeRp('eve', PASSWORD, { scope: 'openid email' })).tokens.claims()!.email_verified).toBe(false);
  const done = await browser.submit(page, formAction(page.body, '/email/verify'), { csrf: hiddenField(page.body, 'csrf'), token: hiddenField(page.body, 'token') });
  expect(done.status).toBe(200);
  expect(done.body).toContain('your email address is confirmed');
  expect((await browser.follow(link)).status).toBe(410);

  const after = await authorizeRp('eve', PASSWORD, { scope: 'openid email' });
  expect(after.tokens.claims()).toMatchObject({ email_verified: true });
  const userinfo = await oidc.fetchUserInfo(after.config, after.tokens.access_token, after.tokens.claims()!.sub);
  expect(userinfo).toMatchObject({ email: email('eve'), email_verified: true });
  expect((await browser.follow(`${issuer}/account`)).body).toContain('Your email address is confirmed.');
}, 40_000);

test('a person locked out by wrong passwords resets the password from that address and signs in with it at once', async () => {
  // Five wrong passwords (VIGIL_LOGIN_MAX_FAILURES_PER_ACCOUNT) lock the account at this address.
  for (let i = 0; i < 5; i++) await signInFails('gus', `wrong password number ${i}`);
  const browser = new Browser();
  const login = await loginPage(browser);
  const locked = await browser.submit(login, formAction(login.body, '/login'), { csrf: hiddenField(login.body, 'csrf'), email: email('gus'), password: PASSWORD });
  expect(locked.status).toBe(429);

  const done = await submitReset(new Browser(), await resetLink('gus', '10.0.7.1'), NEW_PASSWORD);
  expect(done.status).toBe(200);
  const { tokens } = await authorizeRp('gus', NEW_PASSWORD, { scope: 'openid' });
  expect(tokens.claims()?.sub).toBe(ids.gus);
});
