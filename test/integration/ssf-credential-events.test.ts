/**
 * The CAEP SETs a person's own actions cause, as a poll receiver sees them through real HTTP:
 * credential-change when they add or remove an authenticator app or a passkey on /account, and
 * assurance-level-change when a one-factor session steps up to 2fa through the authorization
 * endpoint. Every SET is verified against Vigil's /jwks; a person who never authorized the
 * stream's client produces nothing on it.
 */
import { createRemoteJWKSet, decodeJwt, decodeProtectedHeader, jwtVerify, type JWTPayload } from 'jose';
import { freePort, vigilCli, type VigilProcess } from '../support/vigil-process.ts';
import { Browser, formAction, hiddenField, signIn, type Page } from '../support/browserless.ts';
import { SoftAuthenticator } from '../support/soft-authenticator.ts';
import { Authenticator, enrolmentKey } from '../support/authenticator.ts';
import { discover, pkceAuthorization, startStack, type ClientOut, type Stack } from '../support/stack.ts';
import { clientCredentialsToken, jsonCall } from '../support/json-api.ts';

const PASSWORD = 'correct horse battery staple 9';
const CAEP = 'https://schemas.openid.net/secevent/caep/event-type/';
const CREDENTIAL_CHANGE = `${CAEP}credential-change`;
const ASSURANCE_LEVEL_CHANGE = `${CAEP}assurance-level-change`;
const ACCOUNT_DISABLED = 'https://schemas.openid.net/secevent/risc/event-type/account-disabled';
const ONE = 'urn:vigil:acr:1fa';
const TWO = 'urn:vigil:acr:2fa';
const email = (name: string) => `${name}@vigil.test`;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let stack: Stack;
let vigil: VigilProcess;
let redirectUri: string;
let rp: ClientOut;
let streamId: string;
let rpToken: string;
let jwks: ReturnType<typeof createRemoteJWKSet>;
const ids: Record<string, string> = {};

// ---------------------------------------------------------------------------------------------
// The relying party's side: its token, the SSF API, and the poll receiver.

const clientToken = (client: ClientOut, resource: string, scope: string) => clientCredentialsToken(vigil.issuer, client, resource, scope);

const api = (method: string, path: string, token: string | undefined, body?: unknown) => jsonCall(vigil.issuer, method, path, token, body);

interface Received { jti: string; set: string; claims: JWTPayload & Record<string, any>; used: boolean }
/** Every SET polled from the stream, in the order the poll returned them (oldest first). */
const received: Received[] = [];

/** One poll: what it returns is kept (in order) and acknowledged. */
async function pollOnce(): Promise<number> {
  const res = await api('POST', `/ssf/poll/${streamId}`, rpToken, { returnImmediately: true, maxEvents: 50 });
  expect(res.status).toBe(200);
  const sets = Object.entries(res.body.sets as Record<string, string>);
  for (const [jti, set] of sets) received.push({ jti, set, claims: decodeJwt(set) as Received['claims'], used: false });
  if (sets.length) {
    expect((await api('POST', `/ssf/poll/${streamId}`, rpToken, { returnImmediately: true, maxEvents: 0, ack: sets.map(([jti]) => jti) })).status).toBe(200);
  }
  return sets.length;
}

/**
 * The next SET not looked at yet of `type` about `accountId` (polling until it arrives); it is
 * verified against /jwks: signature, typ secevent+jwt, iss, aud (the RP), and the SET shape.
 */
async function nextEvent(type: string, accountId: string): Promise<{ claims: Received['claims']; event: Record<string, any> }> {
  const end = Date.now() + 10_000;
  for (;;) {
    const found = received.find((r) => !r.used && type in (r.claims.events as object) && r.claims.sub_id?.sub === accountId);
    if (found) {
      found.used = true;
      const { payload, protectedHeader } = await jwtVerify(found.set, jwks, { issuer: vigil.issuer, audience: rp.client_id, typ: 'secevent+jwt', algorithms: ['RS256'] });
      expect(protectedHeader).toMatchObject({ alg: 'RS256', typ: 'secevent+jwt', kid: expect.any(String) });
      expect(payload.jti).toBe(found.jti);
      expect(typeof payload.iat).toBe('number');
      // SSF 1.0: the subject is in sub_id, never a JWT sub claim; one event per SET.
      expect(payload.sub).toBeUndefined();
      expect(payload.sub_id).toEqual({ format: 'iss_sub', iss: vigil.issuer, sub: accountId });
      expect(Object.keys(payload.events as object)).toEqual([type]);
      return { claims: payload as Received['claims'], event: (payload.events as Record<string, Record<string, any>>)[type] };
    }
    if (Date.now() > end) throw new Error(`no ${type} SET about ${accountId} arrived; got ${JSON.stringify(received.map((r) => r.claims))}`);
    if ((await pollOnce()) === 0) await sleep(100);
  }
}

/** event_timestamp: seconds, around now. */
function expectRecentTimestamp(event: Record<string, any>, since: number) {
  expect(Number.isInteger(event.event_timestamp)).toBe(true);
  expect(event.event_timestamp).toBeGreaterThanOrEqual(Math.floor(since / 1000) - 1);
  expect(event.event_timestamp).toBeLessThanOrEqual(Math.ceil(Date.now() / 1000) + 1);
}

// ---------------------------------------------------------------------------------------------
// The person's side: /account and the sign-in pages, without a browser.

async function openAccount(browser: Browser, name: string): Promise<Page> {
  let page = await browser.follow(`${vigil.issuer}/account`);
  if (page.body.includes('name="password"')) {
    page = await browser.submit(page, formAction(page.body, '/login'), { csrf: hiddenField(page.body, 'csrf'), email: email(name), password: PASSWORD });
  }
  expect(page.status).toBe(200);
  expect(page.body).toContain(`id="account-email">${email(name)}<`);
  return page;
}

async function enrolTotp(browser: Browser, account: Page): Promise<Authenticator> {
  const enrol = await browser.submit(account, '/account/totp/begin', { csrf: hiddenField(account.body, 'csrf') });
  expect(enrol.status).toBe(200);
  const secret = enrolmentKey(enrol.body);
  const app = new Authenticator(secret);
  const done = await browser.submit(enrol, '/account/totp/confirm', { csrf: hiddenField(enrol.body, 'csrf'), code: await app.next() });
  expect(done.status).toBe(200);
  expect(done.body).toContain('id="recovery-codes"');
  return app;
}

/** A POST of JSON from the browser (the passkey script's requests). */
async function postJson(browser: Browser, path: string, body: unknown) {
  const page = await browser.request(`${vigil.issuer}${path}`, {
    method: 'POST', headers: { 'content-type': 'application/json', accept: 'application/json' }, body: JSON.stringify(body),
  });
  return { status: page.status, body: JSON.parse(page.body) };
}

/**
 * A password-only sign-in changes no factor of an account that has one: the change sends the
 * browser to the step-up page (the second factor alone). Proving it there with the app lands on
 * the account page again.
 */
async function confirmWithApp(browser: Browser, factorPage: Page, app: Authenticator): Promise<Page> {
  expect(factorPage.body).toContain('Confirm it is you');
  const page = await browser.submit(factorPage, formAction(factorPage.body, '/totp'), { csrf: hiddenField(factorPage.body, 'csrf'), code: await app.next() });
  expect(page.body).toContain('You confirmed it is you');
  return page;
}

/** The same with a passkey (the interaction's WebAuthn endpoints, as its script calls them). */
async function confirmWithPasskey(browser: Browser, factorPage: Page, authenticator: SoftAuthenticator): Promise<Page> {
  expect(factorPage.body).toContain('Confirm it is you');
  const csrf = hiddenField(factorPage.body, 'csrf');
  const at = (path: string) => `${new URL(factorPage.url).pathname}${path}`;
  const options = await postJson(browser, at('/webauthn/options'), { csrf });
  expect(options.status).toBe(200);
  const response = authenticator.assert({ rpId: 'localhost', origin: vigil.issuer, challenge: options.body.challenge });
  const verified = await postJson(browser, at('/webauthn/verify'), { csrf, response });
  expect(verified.status).toBe(200);
  const page = await browser.follow(new URL(verified.body.redirect, vigil.issuer).toString());
  expect(page.body).toContain('You confirmed it is you');
  return page;
}

/** Signs `name` in to the RP with a password only (a grant of the RP now exists). */
async function authorizeRp(browser: Browser, name: string, extra: Record<string, string> = {}) {
  const config = await discover(vigil.issuer, rp);
  const request = await pkceAuthorization(config, { redirect_uri: redirectUri, scope: 'openid', ...extra });
  const callback = await signIn(browser, request.url, email(name), PASSWORD, redirectUri);
  const tokens = await request.redeem(callback);
  return tokens.claims()!;
}

// ---------------------------------------------------------------------------------------------

beforeAll(async () => {
  // WebAuthn refuses IP addresses as RP IDs: the issuer is on localhost.
  stack = await startStack({}, { issuerHost: 'localhost' });
  vigil = stack.vigil;
  redirectUri = `http://localhost:${await freePort()}/cb`;
  jwks = createRemoteJWKSet(new URL(`${vigil.issuer}/jwks`));
  const people = ['ada', 'cy', 'mallory'];
  const created = await Promise.all(people.map((p) => vigilCli<{ id: string }>(stack.env, ['user', 'create', '--email', email(p), '--password', PASSWORD])));
  people.forEach((p, i) => { ids[p] = created[i].id; });
  rp = await vigilCli<ClientOut>(stack.env, ['client', 'create', '--name', 'RP', '--redirect-uri', redirectUri, '--grant-type', 'authorization_code',
    '--grant-type', 'refresh_token', '--grant-type', 'client_credentials', '--allow-resource', `${vigil.issuer}/ssf`, '--scope', 'ssf:stream']);
  // ada and cy authorize the RP; mallory never does (she only ever signs in to /account).
  await authorizeRp(new Browser(), 'ada');
  await authorizeRp(new Browser(), 'cy');
  rpToken = await clientToken(rp, `${vigil.issuer}/ssf`, 'ssf:stream');
  const stream = await api('POST', '/ssf/stream', rpToken, { delivery: { method: 'urn:ietf:rfc:8936' }, events_requested: [CREDENTIAL_CHANGE, ASSURANCE_LEVEL_CHANGE, ACCOUNT_DISABLED] });
  expect(stream.status).toBe(201);
  expect(stream.body.events_delivered).toEqual([CREDENTIAL_CHANGE, ASSURANCE_LEVEL_CHANGE, ACCOUNT_DISABLED]);
  streamId = stream.body.stream_id;
  // Those who authorized the RP are added; anyone else is refused (nothing stored).
  for (const subject of [
    { format: 'email', email: email('ada') },
    { format: 'iss_sub', iss: vigil.issuer, sub: ids.cy },
  ]) {
    const added = await api('POST', '/ssf/subjects/add', rpToken, { stream_id: streamId, subject });
    expect([added.status, added.body]).toEqual([200, {}]);
  }
  expect((await api('POST', '/ssf/subjects/add', rpToken, { stream_id: streamId, subject: { format: 'email', email: email('mallory') } })).status).toBe(400);
}, 90_000);

afterAll(async () => {
  await stack?.stop();
});

test('credential-change (app): create when a person enrols an authenticator app on /account, delete when they remove it', async () => {
  const browser = new Browser();
  const account = await openAccount(browser, 'ada');
  const beforeCreate = Date.now();
  const app = await enrolTotp(browser, account);
  const created = await nextEvent(CREDENTIAL_CHANGE, ids.ada);
  expect(created.event).toEqual({ credential_type: 'app', change_type: 'create', initiating_entity: 'user', event_timestamp: expect.any(Number) });
  expectRecentTimestamp(created.event, beforeCreate);

  const before = await browser.follow(`${vigil.issuer}/account`);
  expect(before.body).toContain('An authenticator app is set up.');
  const page = await confirmWithApp(browser, await browser.submit(before, formAction(before.body, '/account/totp/remove'), { csrf: hiddenField(before.body, 'csrf') }), app);
  // (The step-up the removal asked for raised the session's level.)
  expect((await nextEvent(ASSURANCE_LEVEL_CHANGE, ids.ada)).event).toMatchObject({ previous_level: ONE, current_level: TWO, change_direction: 'increase' });
  const beforeDelete = Date.now();
  const removed = await browser.submit(page, formAction(page.body, '/account/totp/remove'), { csrf: hiddenField(page.body, 'csrf') });
  expect(removed.status).toBe(200);
  expect(removed.body).toMatch(/id="totp-status">Not set up\./);
  const deleted = await nextEvent(CREDENTIAL_CHANGE, ids.ada);
  expect(deleted.event).toEqual({ credential_type: 'app', change_type: 'delete', initiating_entity: 'user', event_timestamp: expect.any(Number) });
  expectRecentTimestamp(deleted.event, beforeDelete);
  expect(deleted.claims.jti).not.toBe(created.claims.jti);
});

test('credential-change (passkey): create when a person adds a passkey on /account, delete when they remove it', async () => {
  const browser = new Browser();
  const account = await openAccount(browser, 'ada');
  const csrf = hiddenField(account.body, 'csrf');
  const options = await postJson(browser, '/account/passkeys/options', { csrf });
  expect(options.status).toBe(200);
  const authenticator = new SoftAuthenticator({ seed: 'ada-phone', attachment: 'platform', transports: ['internal', 'hybrid'], backupEligible: true, backedUp: true });
  const response = authenticator.register({ rpId: 'localhost', origin: vigil.issuer, challenge: options.body.challenge, userId: options.body.user.id });
  const beforeCreate = Date.now();
  const verified = await postJson(browser, '/account/passkeys/verify', { csrf, response, name: 'Phone' });
  expect(verified).toEqual({ status: 200, body: { redirect: '/account?done=passkey' } });
  const created = await nextEvent(CREDENTIAL_CHANGE, ids.ada);
  expect(created.event).toEqual({ credential_type: 'fido2-platform', change_type: 'create', initiating_entity: 'user', event_timestamp: expect.any(Number) });
  expectRecentTimestamp(created.event, beforeCreate);

  const before = await browser.follow(`${vigil.issuer}/account`);
  const removeAction = formAction(before.body, `/account/passkeys/${encodeURIComponent(response.id)}/remove`);
  const page = await confirmWithPasskey(browser, await browser.submit(before, removeAction, { csrf: hiddenField(before.body, 'csrf') }), authenticator);
  expect((await nextEvent(ASSURANCE_LEVEL_CHANGE, ids.ada)).event).toMatchObject({ previous_level: ONE, current_level: 'urn:vigil:acr:phr', change_direction: 'increase' });
  const beforeDelete = Date.now();
  const removed = await browser.submit(page, removeAction, { csrf: hiddenField(page.body, 'csrf') });
  expect(removed.status).toBe(200);
  expect(removed.body).toContain('id="no-passkeys"');
  const deleted = await nextEvent(CREDENTIAL_CHANGE, ids.ada);
  expect(deleted.event).toEqual({ credential_type: 'fido2-platform', change_type: 'delete', initiating_entity: 'user', event_timestamp: expect.any(Number) });
  expectRecentTimestamp(deleted.event, beforeDelete);
});

test('assurance-level-change: a 1fa session stepped up to 2fa with acr_values (the factor page only) sends increase 1fa → 2fa', async () => {
  const enrolBrowser = new Browser();
  const app = await enrolTotp(enrolBrowser, await openAccount(enrolBrowser, 'cy'));
  // (The enrolment is itself a credential change.)
  expect((await nextEvent(CREDENTIAL_CHANGE, ids.cy)).event).toMatchObject({ credential_type: 'app', change_type: 'create' });

  const browser = new Browser();
  const first = await authorizeRp(browser, 'cy');
  expect(first.acr).toBe(ONE);

  // The same browser asks for 2fa: only the factor page (no password), then the RP.
  const config = await discover(vigil.issuer, rp);
  const request = await pkceAuthorization(config, { redirect_uri: redirectUri, scope: 'openid', acr_values: TWO });
  const isClient = (u: string) => u.startsWith(redirectUri);
  let page = await browser.follow(request.url, isClient);
  expect(page.body).not.toContain('name="password"');
  expect(page.body).toContain('/totp"');
  const beforeStepUp = Date.now();
  page = await browser.submit(page, formAction(page.body, '/totp'), { csrf: hiddenField(page.body, 'csrf'), code: await app.next() }, isClient);
  if (!page.location?.startsWith(redirectUri) && page.body.includes('/confirm"')) {
    page = await browser.submit(page, formAction(page.body, '/confirm'), { csrf: hiddenField(page.body, 'csrf') }, isClient);
  }
  expect(page.location?.startsWith(redirectUri)).toBe(true);
  const stepped = (await request.redeem(page.location!)).claims()!;
  expect(stepped.acr).toBe(TWO);
  expect(stepped.sub).toBe(ids.cy);
  expect(stepped.sid).toBe(first.sid);

  const change = await nextEvent(ASSURANCE_LEVEL_CHANGE, ids.cy);
  expect(change.event).toEqual({
    namespace: 'urn:vigil:acr', previous_level: ONE, current_level: TWO, change_direction: 'increase',
    initiating_entity: 'user', event_timestamp: expect.any(Number),
  });
  expectRecentTimestamp(change.event, beforeStepUp);

  // Already at 2fa: asking again changes nothing, so no second event.
  const again = await pkceAuthorization(config, { redirect_uri: redirectUri, scope: 'openid', acr_values: TWO });
  const quiet = await browser.follow(again.url, isClient);
  expect(quiet.location?.startsWith(redirectUri)).toBe(true);
  expect((await again.redeem(quiet.location!)).claims()!.acr).toBe(TWO);
  // A marker change of cy's after it: everything before the marker has been polled by then.
  const marker = await openAccount(browser, 'cy');
  const removed = await browser.submit(marker, formAction(marker.body, '/account/totp/remove'), { csrf: hiddenField(marker.body, 'csrf') });
  expect(removed.status).toBe(200);
  expect((await nextEvent(CREDENTIAL_CHANGE, ids.cy)).event).toMatchObject({ credential_type: 'app', change_type: 'delete' });
  expect(received.filter((r) => !r.used && ASSURANCE_LEVEL_CHANGE in (r.claims.events as object))).toEqual([]);
});

test('a person who never authorized the RP produces no event on its stream, though she was named as a subject', async () => {
  const browser = new Browser();
  const account = await openAccount(browser, 'mallory');
  const app = await enrolTotp(browser, account);
  const before = await browser.follow(`${vigil.issuer}/account`);
  const page = await confirmWithApp(browser, await browser.submit(before, formAction(before.body, '/account/totp/remove'), { csrf: hiddenField(before.body, 'csrf') }), app);
  const removed = await browser.submit(page, formAction(page.body, '/account/totp/remove'), { csrf: hiddenField(page.body, 'csrf') });
  expect(removed.status).toBe(200);

  // A change of ada's after mallory's: the poll returns SETs oldest first, so once ada's has
  // arrived, any SET about mallory would have arrived before it.
  const adaBrowser = new Browser();
  const adaApp = await enrolTotp(adaBrowser, await openAccount(adaBrowser, 'ada'));
  expect(adaApp.secret).toBeTruthy();
  expect((await nextEvent(CREDENTIAL_CHANGE, ids.ada)).event).toMatchObject({ credential_type: 'app', change_type: 'create' });
  await pollOnce();
  expect(received.length).toBeGreaterThanOrEqual(7);
  expect(received.filter((r) => r.claims.sub_id?.sub === ids.mallory)).toEqual([]);
  expect(received.map((r) => r.claims.sub_id?.sub).filter((s) => s !== ids.ada && s !== ids.cy)).toEqual([]);
  // Nothing about anyone is left unread: every SET received was one a test expected.
  expect(received.filter((r) => !r.used)).toEqual([]);
});

test('RISC account-disabled: an account disabled by an administrator (the CLI here) is told to the streams following the person', async () => {
  await vigilCli(stack.env, ['user', 'disable', '--email', email('cy')]);
  const { event } = await nextEvent(ACCOUNT_DISABLED, ids.cy);
  expect(event).toMatchObject({ initiating_entity: 'admin', reason_admin: { en: 'account disabled' } });
});
