import { writeFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { queryDatabase } from '../support/services.ts';
import { freePort, tempDir, vigilCli, type VigilProcess } from '../support/vigil-process.ts';
import { Browser, formAction, hiddenField, signIn, type Page } from '../support/browserless.ts';
import { browserAt as browserFrom } from '../support/from-address.ts';
import { discover, pkceAuthorization, startStack, type ClientOut, type Stack } from '../support/stack.ts';
import { loadRiskPolicy } from '../../src/verification/index.ts';
import { assess, emptyHistory, type Signal } from '../../src/risk/index.ts';

/**
 * The risk engine at the password step, as a person and the relying party see it: operator
 * network lists (VIGIL_NETWORK_LISTS) deny or demand a second factor, wrong passwords do not
 * spoil the next attempt, and the device cookie lets the next sign-in be assessed as the same browser.
 */

const PASSWORD = 'correct horse battery staple 9';
const LONDON = '88.97.0.1';
const KNOWN_BAD = '203.0.113.66';
const ANONYMIZER = '198.51.100.23';
const SYDNEY = '1.120.0.1';
const FIREFOX = 'Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0';
const BLOCKED = 'This sign-in was blocked because it looks unusual for this account';
const NO_FACTOR = 'needs a second factor, but none is set up';

const dir = tempDir('vigil-risk-login-');
let stack: Stack;
let vigil: VigilProcess;
let env: Record<string, string>;
let spa: ClientOut;
let redirectUri: string;
const accounts: Record<string, string> = {};

/** A browser (Firefox) whose requests reach Vigil from `ip` through the trusted loopback proxy. */
function browserAt(ip: string): Browser {
  return browserFrom(ip, FIREFOX);
}

const toClient = (url: string) => url.startsWith(redirectUri);

/** Starts an authorization request in `browser` and submits the password on the login page. */
async function submitPassword(browser: Browser, email: string, password: string): Promise<{ login: Page; after: Page }> {
  const config = await discover(vigil.issuer, spa);
  const request = await pkceAuthorization(config, { redirect_uri: redirectUri, scope: 'openid' });
  const login = await browser.follow(request.url, toClient);
  expect(login.body).toContain('/login"');
  const after = await browser.submit(login, formAction(login.body, '/login'), { csrf: hiddenField(login.body, 'csrf'), email, password }, toClient);
  return { login, after };
}

/** The page's error message (the login page shows one in #error). */
const errorOf = (page: Page) => /<p class="error" role="alert" id="error">([^<]*)<\/p>/.exec(page.body)?.[1]?.replace(/&#39;/g, "'");

const query = <T>(sql: string, params: unknown[] = []) => queryDatabase<T>(env.DATABASE_URL, sql, params);

interface AssessmentRow { type: string; ip: string; ip_is_user: boolean; score: number; device_id: string | null; decision: { action: string; acr?: string }; rules: string[]; signals: Signal[] }
const loginAssessments = (accountId: string) =>
  query<AssessmentRow>("SELECT * FROM risk_assessments WHERE account_id = $1 AND type = 'login' ORDER BY at, id", [accountId]);

interface AuditRow { action: string; ip: string | null; outcome: string; details: Record<string, unknown> }
/** Audit entries of `actor` with `action`, waiting (batched writes) until there are `count`. */
async function audit(action: string, actor: string, count = 1, timeoutMs = 5_000): Promise<AuditRow[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const rows = await query<AuditRow>('SELECT action, ip, outcome, details FROM audit_log WHERE action = $1 AND actor = $2 ORDER BY seq', [action, actor]);
    if (rows.length >= count || Date.now() > deadline) return rows;
    await new Promise((r) => setTimeout(r, 50));
  }
}

beforeAll(async () => {
  const knownBad = join(dir, 'known-bad.txt');
  writeFileSync(knownBad, '# botnet ranges\n203.0.113.0/24\n\n192.0.2.77 # a single address\n');
  const anonymizer = join(dir, 'vpn-exits.txt');
  writeFileSync(anonymizer, '198.51.100.0/24\n');
  const port = await freePort();
  redirectUri = `http://127.0.0.1:${port}/cb`;
  stack = await startStack({ TRUST_PROXY: '127.0.0.1/32', VIGIL_NETWORK_LISTS: `known_bad=${knownBad},anonymizer=${anonymizer}` });
  ({ vigil, env } = stack);
  const people = ['mallory', 'victor', 'peggy', 'walter', 'sam'];
  const [created, spaOut] = await Promise.all([
    Promise.all(people.map((p) => vigilCli<{ id: string }>(env, ['user', 'create', '--email', `${p}@vigil.test`, '--password', PASSWORD]))),
    vigilCli(env, ['client', 'create', '--name', 'SPA', '--public', '--redirect-uri', redirectUri]),
  ]);
  people.forEach((p, i) => { accounts[p] = created[i].id; });
  spa = spaOut as unknown as ClientOut;
}, 120_000);

afterAll(async () => {
  await stack?.stop();
  rmSync(dir, { recursive: true, force: true });
});

test('a sign-in from an address on the known_bad list is blocked: 403 on the login page, no code for the client, audited', async () => {
  const browser = browserAt(KNOWN_BAD);
  const { after } = await submitPassword(browser, 'mallory@vigil.test', PASSWORD);
  expect(after.status).toBe(403);
  expect(after.location).toBeUndefined();
  expect(errorOf(after)).toContain(BLOCKED);
  // Still the login form: nothing was handed to the client, and no session was made.
  expect(after.body).toContain('/login"');
  const again = await submitPassword(browser, 'mallory@vigil.test', PASSWORD);
  expect(again.login.status).toBe(200);
  expect(again.after.status).toBe(403);

  const [assessment] = await loginAssessments(accounts.mallory);
  expect(assessment).toMatchObject({ ip: KNOWN_BAD, ip_is_user: true, decision: { action: 'deny' } });
  expect(assessment.rules).toContain('signal network_known_bad');
  expect(assessment.signals.find((s) => s.name === 'network_known_bad')).toMatchObject({ contribution: 60 });

  const logins = await audit('login', accounts.mallory);
  expect(logins[0]).toMatchObject({ ip: KNOWN_BAD, outcome: 'denied', details: { reason: 'risk' } });
  expect(logins.every((l) => l.outcome === 'denied')).toBe(true);
  const risk = await audit('risk.login', accounts.mallory);
  expect(risk[0]).toMatchObject({ ip: KNOWN_BAD, outcome: 'denied', details: { decision: { action: 'deny' } } });
});

test('a sign-in from an anonymiser for an account without second factors: the "needs a second factor" page', async () => {
  // The shipped policy asks for a second factor at this score: the anonymiser list (25) and an
  // address without a location (5) make 30 even for an account with no history at all.
  const policy = loadRiskPolicy();
  const expected = assess({
    type: 'login', time: Date.now(), accountId: 'x', clientId: spa.client_id, ip: ANONYMIZER, userAgent: FIREFOX,
    ipIsUser: true, networkTags: ['anonymizer'], outcome: 'success',
  }, emptyHistory(), policy);
  expect(expected.score).toBeGreaterThanOrEqual(30);
  expect(expected.decision).toEqual({ action: 'mfa', acr: 'urn:vigil:acr:2fa' });

  const { after } = await submitPassword(browserAt(ANONYMIZER), 'victor@vigil.test', PASSWORD);
  expect(after.status).toBe(403);
  expect(after.location).toBeUndefined();
  expect(errorOf(after)).toContain(NO_FACTOR);
  expect(errorOf(after)).not.toContain(BLOCKED);

  const [assessment] = await loginAssessments(accounts.victor);
  expect(assessment).toMatchObject({ ip: ANONYMIZER, decision: { action: 'mfa', acr: 'urn:vigil:acr:2fa' } });
  expect(assessment.score).toBeGreaterThanOrEqual(expected.score);
  expect(assessment.signals.map((s) => s.name)).toEqual(expect.arrayContaining(['network_anonymizer', 'unknown_location']));
  const [entry] = await audit('login', accounts.victor);
  expect(entry).toMatchObject({ outcome: 'denied', details: { reason: 'risk_needs_factor', needed: 'urn:vigil:acr:2fa' } });
});

test('a wrong password, then the right one: the sign-in goes through', async () => {
  const browser = browserAt(LONDON);
  const { after: wrong } = await submitPassword(browser, 'peggy@vigil.test', 'not the password at all');
  expect(wrong.status).toBe(401);
  expect(errorOf(wrong)).toBe('The email or password is not correct.');
  const retry = await browser.submit(wrong, formAction(wrong.body, '/login'), { csrf: hiddenField(wrong.body, 'csrf'), email: 'peggy@vigil.test', password: PASSWORD }, toClient);
  // The consent page, then the client gets its code.
  expect(retry.body).toContain('/confirm"');
  const done = await browser.submit(retry, formAction(retry.body, '/confirm'), { csrf: hiddenField(retry.body, 'csrf') }, toClient);
  expect(done.location).toMatch(new RegExp(`^${redirectUri}\\?code=`));
  const [assessment] = await loginAssessments(accounts.peggy);
  expect(assessment.decision).toEqual({ action: 'allow' });
  const logins = await audit('login', accounts.peggy, 2);
  expect(logins.map((l) => l.outcome)).toEqual(['failure', 'success']);
});

test('a normal sign-in from London is allowed and sets the vigil_device cookie; the next sign-in with it is assessed as that device', async () => {
  const first = browserAt(LONDON);
  const config = await discover(vigil.issuer, spa);
  const request = await pkceAuthorization(config, { redirect_uri: redirectUri, scope: 'openid' });
  const callback = await signIn(first, request.url, 'walter@vigil.test', PASSWORD, redirectUri);
  expect((await request.redeem(callback)).access_token).toBeTruthy();
  const cookie = first.jar.header().split('; ').find((c) => c.startsWith('vigil_device='));
  expect(cookie).toBeDefined();
  const deviceId = cookie!.slice('vigil_device='.length).split('.')[0];
  expect(deviceId).toMatch(/^brw_[A-Za-z0-9_-]{22}$/);

  // The same browser later, with nothing but its device cookie (its session is gone).
  const later = browserAt(LONDON);
  later.jar.store({ headers: { getSetCookie: () => [`${cookie}; Path=/; HttpOnly`] } } as unknown as Response);
  const again = await pkceAuthorization(config, { redirect_uri: redirectUri, scope: 'openid' });
  await signIn(later, again.url, 'walter@vigil.test', PASSWORD, redirectUri);

  // Another browser, without the cookie, is a device the account has not used.
  const other = browserAt(LONDON);
  const third = await pkceAuthorization(config, { redirect_uri: redirectUri, scope: 'openid' });
  await signIn(other, third.url, 'walter@vigil.test', PASSWORD, redirectUri);
  const otherId = other.jar.header().split('; ').find((c) => c.startsWith('vigil_device='))!.slice('vigil_device='.length).split('.')[0];

  const rows = await loginAssessments(accounts.walter);
  expect(rows.map((r) => r.decision.action)).toEqual(['allow', 'allow', 'allow']);
  expect(rows[0]).toMatchObject({ ip: LONDON, device_id: deviceId });
  expect(rows[1]).toMatchObject({ ip: LONDON, device_id: deviceId });
  expect(rows[1].signals.map((s) => s.name)).not.toContain('unknown_device');
  expect(otherId).toMatch(/^brw_/);
  expect(otherId).not.toBe(deviceId);
  expect(rows[2].device_id).toBe(otherId);
  expect(rows[2].signals.map((s) => s.name)).toContain('unknown_device');
});

test('a forged device cookie is not taken as the device', async () => {
  const forged = `brw_${'A'.repeat(22)}`;
  const browser = browserAt(LONDON);
  browser.jar.store({ headers: { getSetCookie: () => [`vigil_device=${forged}.not-the-mac`] } } as unknown as Response);
  const config = await discover(vigil.issuer, spa);
  const request = await pkceAuthorization(config, { redirect_uri: redirectUri, scope: 'openid' });
  await signIn(browser, request.url, 'walter@vigil.test', PASSWORD, redirectUri);
  const last = (await loginAssessments(accounts.walter)).at(-1)!;
  expect(last.device_id).toMatch(/^brw_/);
  expect(last.device_id).not.toBe(forged);
});

test('single sign-on is judged on its own context: the same browser gets in with no page; its session cookies replayed from Sydney must confirm with a second factor', async () => {
  const laptop = browserAt(LONDON);
  const config = await discover(vigil.issuer, spa);
  const first = await pkceAuthorization(config, { redirect_uri: redirectUri, scope: 'openid' });
  expect(await signIn(laptop, first.url, 'sam@vigil.test', PASSWORD, redirectUri)).toMatch(/\?code=/);

  // Signing in again from the same browser and place: no page at all, and the sign-in is assessed.
  const again = await laptop.follow((await pkceAuthorization(config, { redirect_uri: redirectUri, scope: 'openid' })).url, toClient);
  expect(again.location).toMatch(/\?code=/);
  const [, sso] = await loginAssessments(accounts.sam);
  expect(sso).toMatchObject({ ip: LONDON, decision: { action: 'allow' } });

  // An info-stealer's copy of every cookie (the session's and the device's), replayed from Sydney minutes later.
  const thief = browserAt(SYDNEY);
  thief.jar.store({ headers: { getSetCookie: () => laptop.jar.header().split('; ').map((pair) => `${pair}; Path=/`) } } as unknown as Response);
  const page = await thief.follow((await pkceAuthorization(config, { redirect_uri: redirectUri, scope: 'openid' })).url, toClient);
  expect(page.location).toBeUndefined();
  expect(page.url).toMatch(/\/interaction\//);
  expect(page.body).toContain('<h1>Confirm it is you</h1>');
  const stolen = (await loginAssessments(accounts.sam)).at(-1)!;
  expect(stolen).toMatchObject({ ip: SYDNEY, decision: { action: 'mfa', acr: 'urn:vigil:acr:phr' } });
  expect(stolen.signals.map((s) => s.name)).toContain('impossible_travel');
});
