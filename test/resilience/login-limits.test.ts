/**
 * The password step's limits as an attacker meets them (Postgres + Redis, default limits: 5 per
 * account and address, 50 per address, 20 per account from every address): a concurrent burst
 * checks no more passwords than the limit and gives the right one away by nothing; a guesser
 * locks out only their own address; an account attacked from many addresses asks for the second
 * factor instead of refusing its owner; a passkey sign-in is never blocked by password failures;
 * the admin API shows the attack by address, and the audit names the limit that acted.
 */
import { randomUUID } from 'node:crypto';
import { ROOT, freePort, vigilCli, type VigilProcess } from '../support/vigil-process.ts';
import { formAction, hiddenField, type Browser, type Page } from '../support/browserless.ts';
import { browserAt } from '../support/from-address.ts';
import { queryDatabase } from '../support/services.ts';
import { enrolTotp as enrolTotpFor } from '../support/totp.ts';
import { SoftAuthenticator } from '../support/soft-authenticator.ts';
import { clientCredentialsToken, jsonCall } from '../support/json-api.ts';
import { startStack, type ClientOut, type Stack } from '../support/stack.ts';
import { openCore, type Core } from '../../src/core.ts';
import { loadConfig } from '../../src/config/index.ts';
import { createLogger } from '../../src/observability/index.ts';

const PASSWORD = 'correct horse battery staple 9';
const UA = 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/156.0 Safari/537.36';
const FORM = 'application/x-www-form-urlencoded';
const PER_PAIR = 5;
const ATTACK = 20;

let stack: Stack;
let vigil: VigilProcess;
let core: Core;
let web: ClientOut;
let redirect: string;

beforeAll(async () => {
  stack = await startStack({ TRUST_PROXY: '127.0.0.1/32' }, { issuerHost: 'localhost' });
  vigil = stack.vigil;
  redirect = `http://127.0.0.1:${await freePort()}/cb`;
  web = await vigilCli(stack.env, ['client', 'create', '--name', 'Web', '--redirect-uri', redirect]);
  core = await openCore(loadConfig(stack.env, ROOT), createLogger('silent'));
}, 120_000);

afterAll(async () => {
  await core?.close();
  await stack?.stop();
});

async function person(name: string): Promise<{ id: string; email: string }> {
  const email = `${name}@vigil.test`;
  const { id } = await vigilCli<{ id: string }>(stack.env, ['user', 'create', '--email', email, '--password', PASSWORD, '--name', name]);
  return { id, email };
}

/** An authorization request opened from `ip`: the login page, its form action and CSRF value. */
async function loginPage(ip: string, browser: Browser = browserAt(ip, UA), extra: Record<string, string> = {}): Promise<{ browser: Browser; page: Page; uid: string; action: string; csrf: string }> {
  const params = { ...extra, client_id: web.client_id, redirect_uri: redirect, response_type: 'code', scope: 'openid', code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM', code_challenge_method: 'S256' };
  const page = await browser.follow(`${vigil.url}/auth?${new URLSearchParams(params)}`, (u) => u.startsWith(redirect));
  expect(page.status).toBe(200);
  const action = new URL(formAction(page.body, '/login'), vigil.url).toString();
  return { browser, page, uid: /\/interaction\/([^/]+)\/login/.exec(action)![1], action, csrf: hiddenField(page.body, 'csrf') };
}

async function postLogin(login: { browser: Browser; action: string; csrf: string }, email: string, password: string): Promise<Page> {
  return login.browser.request(login.action, { method: 'POST', headers: { 'content-type': FORM }, body: new URLSearchParams({ csrf: login.csrf, email, password }).toString() });
}

/** One whole attempt from `ip`: a fresh authorization request, then the password. */
async function attempt(ip: string, email: string, password: string): Promise<Page> {
  return postLogin(await loginPage(ip), email, password);
}

/** The page as any other answer of its kind: without the interaction id, CSRF values and the wait. */
const normalized = (page: Page, uid: string) => page.body
  .replaceAll(uid, '<uid>')
  .replace(/name="csrf" value="[^"]*"/g, 'name="csrf" value="<csrf>"')
  .replace(/data-csrf="[^"]*"/g, 'data-csrf="<csrf>"')
  .replace(/Try again in \d+ (seconds?|minutes?)/, 'Try again in <wait>');

async function loginAudit(actor: string): Promise<{ outcome: string; reason: string | null; limit: string | null; ip: string }[]> {
  return queryDatabase(stack.db.url,
    `SELECT outcome, details->>'reason' AS reason, details->>'limit' AS limit, ip FROM audit_log WHERE action = 'login' AND actor = $1 ORDER BY seq`, [actor]);
}

test(`a burst of 120 concurrent guesses checks at most ${PER_PAIR} passwords, and the right one is answered like the wrong ones`, async () => {
  const victim = await person('burst');
  const login = await loginPage('198.51.100.7');
  const wrong = Array.from({ length: 119 }, (_, i) => postLogin(login, victim.email, `wrong guess ${i}`));
  // Sent while the burst's passwords are still being checked (argon2id takes far longer than this).
  await new Promise((r) => setTimeout(r, 30));
  const right = await postLogin(login, victim.email, PASSWORD);
  const answers = await Promise.all(wrong);

  const statuses = answers.map((a) => a.status);
  expect(statuses.filter((s) => s !== 401 && s !== 429)).toEqual([]);
  expect(statuses.filter((s) => s === 401).length).toBeLessThanOrEqual(PER_PAIR);
  const audit = await loginAudit(victim.id);
  expect(audit.filter((e) => e.reason === 'bad_password').length).toBeLessThanOrEqual(PER_PAIR);
  expect(audit.filter((e) => e.reason === 'rate_limited').every((e) => e.limit === 'account_address')).toBe(true);

  // The right password: the same status, headers that matter and page as a refused wrong one.
  expect(right.status).toBe(429);
  expect(right.location).toBeUndefined();
  const refused = answers.find((a) => a.status === 429)!;
  expect(normalized(right, login.uid)).toBe(normalized(refused, login.uid));
  expect(audit.some((e) => e.outcome === 'success')).toBe(false);
}, 60_000);

test('while locked, a right and a wrong password take the same time (no password is checked)', async () => {
  const victim = await person('timing');
  const other = await person('timing-reference');
  for (let i = 0; i < PER_PAIR; i++) expect((await attempt('198.51.100.8', victim.email, `wrong ${i}`)).status).toBe(401);
  const login = await loginPage('198.51.100.8');
  const time = async (page: { browser: Browser; action: string; csrf: string }, email: string, password: string, status: number) => {
    const started = process.hrtime.bigint();
    expect((await postLogin(page, email, password)).status).toBe(status);
    return Number(process.hrtime.bigint() - started) / 1e6;
  };
  const rights: number[] = [];
  const wrongs: number[] = [];
  // What a password check costs on this machine now: wrong passwords that are checked (another
  // person, each from an address of its own, so that nothing locks).
  const checked: number[] = [];
  for (let i = 0; i < 8; i++) {
    rights.push(await time(login, victim.email, PASSWORD, 429));
    wrongs.push(await time(login, victim.email, `wrong again ${i}`, 429));
    checked.push(await time(await loginPage(`198.51.100.${20 + i}`), other.email, `wrong ${i}`, 401));
  }
  const median = (xs: number[]) => xs.sort((a, b) => a - b)[xs.length >> 1];
  const checkCost = median(checked) - median(wrongs);
  // argon2id alone costs tens of milliseconds; a locked answer checks no password, whichever it is sent.
  expect(checkCost).toBeGreaterThan(10);
  expect(Math.abs(median(rights) - median(wrongs))).toBeLessThan(checkCost / 2);
}, 60_000);

test('a guesser locks out only their own address: the person still signs in from theirs', async () => {
  const victim = await person('pair');
  for (let i = 0; i < PER_PAIR; i++) expect((await attempt('203.0.113.10', victim.email, `wrong ${i}`)).status).toBe(401);
  const attacker = await attempt('203.0.113.10', victim.email, PASSWORD);
  expect(attacker.status).toBe(429);
  const owner = await attempt('192.0.2.44', victim.email, PASSWORD);
  expect(owner.status).toBe(303);
  expect(owner.location).not.toMatch(/\/interaction\//);
  const audit = await loginAudit(victim.id);
  expect(audit.find((e) => e.reason === 'rate_limited')).toMatchObject({ limit: 'account_address', ip: '203.0.113.10' });
}, 60_000);

/** Wrong passwords for `email` spread over addresses, each staying under the per-address limit. */
async function attackFrom(email: string, prefix: string, failures: number): Promise<void> {
  for (let i = 0; i < failures; i++) {
    const page = await attempt(`${prefix}.${Math.floor(i / (PER_PAIR - 1)) + 1}`, email, `guess ${i}`);
    expect(page.status).toBe(401);
  }
}

const enrolTotp = (accountId: string) => enrolTotpFor(core, accountId);

test(`${ATTACK} failures from many addresses ask the owner for the second factor instead of refusing`, async () => {
  const victim = await person('spread');
  const app = await enrolTotp(victim.id);
  await attackFrom(victim.email, '100.64.1', ATTACK);
  const login = await loginPage('192.0.2.45');
  const second = await postLogin(login, victim.email, PASSWORD);
  // Not refused: the second-factor step of the same interaction.
  expect(second.status).toBe(303);
  const factorPage = await login.browser.request(second.location!);
  expect(factorPage.status).toBe(200);
  expect(factorPage.body).toContain('/totp"');
  expect(factorPage.body).not.toContain('name="password"');
  const done = await login.browser.request(new URL(formAction(factorPage.body, '/totp'), vigil.url).toString(), {
    method: 'POST', headers: { 'content-type': FORM }, body: new URLSearchParams({ csrf: hiddenField(factorPage.body, 'csrf'), code: await app.next() }).toString(),
  });
  expect(done.status).toBe(303);
  expect(done.location).not.toMatch(/\/totp/);
  const audit = await loginAudit(victim.id);
  expect(audit).toContainEqual(expect.objectContaining({ reason: 'account_under_attack', limit: 'account' }));
}, 120_000);

test('an attacked account without a second factor is not locked: its owner signs in from the browser they use', async () => {
  const victim = await person('nofactor');
  const ownersBrowser = browserAt('192.0.2.46', UA);
  const signIn = async () => {
    const login = await loginPage('192.0.2.46', ownersBrowser, { prompt: 'login' });
    const page = await postLogin(login, victim.email, PASSWORD);
    return { page, done: page.status === 303 ? await ownersBrowser.follow(page.location!, (u) => u.startsWith(redirect)) : page };
  };
  const before = await signIn();
  expect(before.page.status).toBe(303);
  await attackFrom(victim.email, '100.64.2', ATTACK);
  const after = await signIn();
  expect(after.page.status).toBe(303);
  expect(after.done.body).not.toContain('name="password"');
  // A browser the account has never used, even from the owner's address, cannot tell the owner from the attacker.
  const stranger = await attempt('192.0.2.46', victim.email, PASSWORD);
  expect(stranger.status).toBe(403);
}, 120_000);

test('a passkey sign-in is never blocked by password failures', async () => {
  const victim = await person('keyholder');
  const account = (await core.accounts.findById(victim.id))!;
  const authenticator = new SoftAuthenticator({ seed: `keyholder-${randomUUID()}` });
  const at = { rpId: 'localhost', origin: vigil.issuer };
  const ceremony = `register-${randomUUID()}`;
  const options = await core.passkeys.registrationOptions(account, ceremony);
  await core.passkeys.register(victim.id, ceremony, authenticator.register({ ...at, challenge: options.challenge, userId: options.user.id, userVerified: true }), 'Key');

  // Locked from this address, and under attack from others.
  await attackFrom(victim.email, '100.64.3', ATTACK);
  for (let i = 0; i < PER_PAIR; i++) expect((await attempt('198.51.100.99', victim.email, `wrong ${i}`)).status).toBe(401);
  expect((await attempt('198.51.100.99', victim.email, PASSWORD)).status).toBe(429);

  const login = await loginPage('198.51.100.99');
  const json = (path: string, body: unknown) => login.browser.request(`${vigil.url}/interaction/${login.uid}/${path}`, {
    method: 'POST', headers: { 'content-type': 'application/json', accept: 'application/json' }, body: JSON.stringify(body),
  });
  const challenge = JSON.parse((await json('webauthn/options', { csrf: login.csrf })).body) as { challenge: string };
  const verified = await json('webauthn/verify', { csrf: login.csrf, response: authenticator.assert({ ...at, challenge: challenge.challenge, userVerified: true }) });
  expect(verified.status).toBe(200);
  let page = await login.browser.follow((JSON.parse(verified.body) as { redirect: string }).redirect, (u) => u.startsWith(redirect));
  if (page.body.includes('/confirm"')) {
    page = await login.browser.request(new URL(formAction(page.body, '/confirm'), vigil.url).toString(), {
      method: 'POST', headers: { 'content-type': FORM }, body: new URLSearchParams({ csrf: hiddenField(page.body, 'csrf') }).toString(),
    });
    page = await login.browser.follow(page.location!, (u) => u.startsWith(redirect));
  }
  expect(page.location).toMatch(new RegExp(`^${redirect}\\?code=`));
}, 120_000);

test('the admin API shows an account under attack, by address, and the overview lists it', async () => {
  const victim = await person('watched');
  await attackFrom(victim.email, '100.64.4', ATTACK);
  const siem = await vigilCli<ClientOut>(stack.env, ['client', 'create', '--name', 'SIEM', '--grant-type', 'client_credentials', '--allow-resource', `${vigil.issuer}/admin/api`, '--scope', 'admin:read']);
  const token = await clientCredentialsToken(vigil.issuer, siem, `${vigil.issuer}/admin/api`, 'admin:read');
  const detail = await jsonCall(`${vigil.issuer}/admin/api`, 'GET', `/accounts/${victim.id}`, token);
  expect(detail.status).toBe(200);
  const failures = (detail.body as { signInFailures: { underAttack: boolean; total: number; byAddress: { ip: string; failures: number }[] } }).signInFailures;
  expect(failures.underAttack).toBe(true);
  expect(failures.total).toBe(ATTACK);
  expect(failures.byAddress.length).toBe(Math.ceil(ATTACK / (PER_PAIR - 1)));
  expect(failures.byAddress.every((a) => a.ip.startsWith('100.64.4.') && a.failures === PER_PAIR - 1)).toBe(true);
  const overview = await jsonCall(`${vigil.issuer}/admin/api`, 'GET', '/overview', token);
  expect((overview.body as { accountsUnderAttack: { accountId: string }[] }).accountsUnderAttack.map((a) => a.accountId)).toContain(victim.id);
}, 120_000);

test('a burst of wrong authenticator codes checks no more codes than the limit', async () => {
  const victim = await person('codes');
  await enrolTotp(victim.id);
  const login = await loginPage('192.0.2.60');
  const params = { client_id: web.client_id, redirect_uri: redirect, response_type: 'code', scope: 'openid', acr_values: 'urn:vigil:acr:2fa', code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM', code_challenge_method: 'S256' };
  const start = await login.browser.follow(`${vigil.url}/auth?${new URLSearchParams(params)}`, (u) => u.startsWith(redirect));
  const action = new URL(formAction(start.body, '/login'), vigil.url).toString();
  const passwordDone = await login.browser.request(action, { method: 'POST', headers: { 'content-type': FORM }, body: new URLSearchParams({ csrf: hiddenField(start.body, 'csrf'), email: victim.email, password: PASSWORD }).toString() });
  const factorPage = await login.browser.request(passwordDone.location!);
  const totpAction = new URL(formAction(factorPage.body, '/totp'), vigil.url).toString();
  const csrf = hiddenField(factorPage.body, 'csrf');
  const answers = await Promise.all(Array.from({ length: 40 }, (_, i) => login.browser.request(totpAction, {
    method: 'POST', headers: { 'content-type': FORM }, body: new URLSearchParams({ csrf, code: String(100000 + i) }).toString(),
  })));
  expect(answers.filter((a) => a.status === 401).length).toBeLessThanOrEqual(5);
  expect(answers.filter((a) => a.status === 429).length).toBeGreaterThanOrEqual(35);
  const checked = await queryDatabase<{ n: number }>(stack.db.url, `SELECT count(*)::int AS n FROM audit_log WHERE action = 'mfa.totp' AND actor = $1 AND outcome = 'failure'`, [victim.id]);
  expect(checked[0].n).toBeLessThanOrEqual(5);
}, 60_000);

test('the server logged no error', async () => {
  const lines = vigil.output().split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as { level: number; msg: string; status?: number });
  expect(lines.filter((l) => l.level >= 50)).toEqual([]);
  expect(lines.filter((l) => l.msg === 'request' && (l.status ?? 0) >= 500)).toEqual([]);
});

