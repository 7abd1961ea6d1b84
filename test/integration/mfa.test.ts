import pg from 'pg';
import * as oidc from 'openid-client';
import { freePort, ROOT, vigilCli, type VigilProcess } from '../support/vigil-process.ts';
import { openCore, type Core } from '../../src/core.ts';
import { COMMANDS } from '../../src/cli/commands.ts';
import { loadConfig } from '../../src/config/index.ts';
import { createLogger } from '../../src/observability/index.ts';
import { Browser, formAction, hiddenField, type Page } from '../support/browserless.ts';
import { Authenticator, enrolmentKey } from '../support/authenticator.ts';
import { discover, pkceAuthorization, startStack, type ClientOut, type PkceAuthorization, type Stack } from '../support/stack.ts';

/**
 * Second factors end to end: enrolment on /account, TOTP and recovery codes at sign-in, acr
 * levels (acr_values, essential acr claim, client default, step-up, max_age), the refusals, and
 * what a credential change or an administrator's step-up does to other sessions and tokens.
 */

const PASSWORD = 'correct horse battery staple 9';
const ONE = 'urn:vigil:acr:1fa';
const TWO = 'urn:vigil:acr:2fa';
const PHR = 'urn:vigil:acr:phr';

let stack: Stack;
let stack2: Stack;
let vigil: VigilProcess;
let vigil2: VigilProcess;
let rpPort: number;
let core: Core;
let core2: Core;
let web: ClientOut;
let strict: ClientOut;
const ids: Record<string, string> = {};
// State carried from one case to the next.
let adaApp: Authenticator;
const danBrowser = new Browser();
let danAuthTime: number;
/** TOTP secrets and recovery codes handed out; none may reach the logs. */
const secretsShown: string[] = [];

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const redirectUri = () => `http://localhost:${rpPort}/cb`;
const isClient = (u: string) => u.startsWith(redirectUri());
const email = (name: string) => `${name}@vigil.test`;

// ---------------------------------------------------------------------------------------------
// Pages and the walk through them.

type Kind = 'login' | 'factor' | 'consent' | 'account' | 'error' | 'other';

function kindOf(page: Page): Kind {
  const h1 = /<h1>([^<]*)<\/h1>/.exec(page.body)?.[1]?.trim();
  if (page.body.includes('name="password"')) return 'login';
  if (h1 === 'Second step' || h1 === 'Confirm it is you') return 'factor';
  if (page.body.includes('/confirm"')) return 'consent';
  if (h1 === 'Your account') return 'account';
  if (page.body.includes('id="error-code"')) return 'error';
  return 'other';
}

interface Answers {
  email?: string;
  password?: string;
  /** Called when the factor page offers the authenticator app. */
  totp?: () => Promise<string> | string;
  recovery?: string;
}

interface Walk {
  /** The redirect to the client, when reached. */
  callback?: string;
  /** Every page shown on the way, in order. */
  seen: Kind[];
  pages: Page[];
  /** The last page (a refusal, a page with nothing to answer, or the last one before the client). */
  page: Page;
}

/**
 * Walks the sign-in pages like a person: password, second factor (authenticator code or recovery
 * code), consent; stops at the client's redirect URI, at a refusal (4xx), or at a page it has no
 * answer for.
 */
async function walk(browser: Browser, url: string, answers: Answers, until: (u: string) => boolean = isClient): Promise<Walk> {
  return walkFrom(browser, await browser.follow(url, until), answers, until);
}

/** The same walk, from a page the browser is on (or a redirect it was given). */
async function walkFrom(browser: Browser, start: Page, answers: Answers, until: (u: string) => boolean = isClient): Promise<Walk> {
  const seen: Kind[] = [];
  const pages: Page[] = [];
  let page = start;
  for (let step = 0; step < 8; step++) {
    if (page.location && until(page.location)) return { callback: page.location, seen, pages, page };
    const kind = kindOf(page);
    seen.push(kind);
    pages.push(page);
    if (page.status >= 400) return { seen, pages, page };
    const csrf = () => hiddenField(page.body, 'csrf');
    if (kind === 'login' && answers.password !== undefined) {
      page = await browser.submit(page, formAction(page.body, '/login'), { csrf: csrf(), email: answers.email ?? '', password: answers.password }, until);
    } else if (kind === 'factor' && answers.totp && page.body.includes('/totp"')) {
      page = await browser.submit(page, formAction(page.body, '/totp'), { csrf: csrf(), code: await answers.totp() }, until);
    } else if (kind === 'factor' && answers.recovery && page.body.includes('/recovery"')) {
      page = await browser.submit(page, formAction(page.body, '/recovery'), { csrf: csrf(), code: answers.recovery }, until);
    } else if (kind === 'consent') {
      page = await browser.submit(page, formAction(page.body, '/confirm'), { csrf: csrf() }, until);
    } else {
      return { seen, pages, page };
    }
  }
  throw new Error(`sign-in went round in circles: ${seen.join(' → ')}`);
}

/** A POST from the browser with its cookies, keeping the whole response (headers too). */
async function post(browser: Browser, url: string, fields: Record<string, string>): Promise<{ response: Response; body: string }> {
  const response = await fetch(new URL(url, vigil.issuer), {
    method: 'POST',
    redirect: 'manual',
    headers: { cookie: browser.jar.header(), accept: 'text/html', 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(fields).toString(),
  });
  browser.jar.store(response);
  return { response, body: await response.text() };
}

// ---------------------------------------------------------------------------------------------
// The relying party.

/** One discovery per client: the cases sign in many times. */
const configs = new Map<string, Promise<oidc.Configuration>>();
function rpConfig(client: ClientOut): Promise<oidc.Configuration> {
  if (!configs.has(client.client_id)) configs.set(client.client_id, discover(vigil.issuer, client));
  return configs.get(client.client_id)!;
}

async function authorization(client: ClientOut, extra: Record<string, string> = {}): Promise<PkceAuthorization> {
  return pkceAuthorization(await rpConfig(client), { redirect_uri: redirectUri(), scope: 'openid', ...extra });
}

/** Signs in to the RP and redeems the code; fails with the pages seen if the client is not reached. */
async function signInToRp(browser: Browser, client: ClientOut, answers: Answers, extra: Record<string, string> = {}) {
  const started = await authorization(client, extra);
  const result = await walk(browser, started.url, answers);
  if (!result.callback) throw new Error(`did not reach the client (${result.seen.join(' → ')}, ${result.page.status}):\n${result.page.body.slice(0, 1500)}`);
  const tokens = await started.redeem(result.callback);
  return { ...result, started, tokens, claims: tokens.claims()! };
}

// ---------------------------------------------------------------------------------------------
// The account page.

const password = (name: string): Answers => ({ email: email(name), password: PASSWORD });

async function openAccount(browser: Browser, answers: Answers, issuer = vigil.issuer): Promise<Walk> {
  return walk(browser, `${issuer}/account`, answers, () => false);
}

async function enrolTotp(browser: Browser, name: string, issuer = vigil.issuer) {
  const account = await openAccount(browser, password(name), issuer);
  expect(account.page.status).toBe(200);
  expect(kindOf(account.page)).toBe('account');
  const enrol = await browser.submit(account.page, '/account/totp/begin', { csrf: hiddenField(account.page.body, 'csrf') });
  expect(enrol.status).toBe(200);
  const secret = enrolmentKey(enrol.body);
  expect(secret).toMatch(/^[A-Z2-7]{16,}$/);
  const app = new Authenticator(secret!);
  const done = await browser.submit(enrol, '/account/totp/confirm', { csrf: hiddenField(enrol.body, 'csrf'), code: await app.next() });
  expect(done.status).toBe(200);
  const codes = recoveryCodes(done.body);
  secretsShown.push(secret!, ...codes);
  return { app, codes, account, done };
}

function recoveryCodes(html: string): string[] {
  const list = /<ul[^>]*id="recovery-codes"[^>]*>([\s\S]*?)<\/ul>/.exec(html)?.[1];
  if (list === undefined) return [];
  return [...list.matchAll(/<li>([^<]*)<\/li>/g)].map((m) => m[1].trim());
}

async function totpRows(database: Stack['db'], accountId: string) {
  const c = new pg.Client({ connectionString: database.url });
  await c.connect();
  try {
    const { rows } = await c.query<{ confirmed: boolean }>('SELECT confirmed_at IS NOT NULL AS confirmed FROM totp_factors WHERE account_id = $1', [accountId]);
    return rows;
  } finally {
    await c.end();
  }
}

// ---------------------------------------------------------------------------------------------

beforeAll(async () => {
  rpPort = await freePort();
  // Two separate deployments (each its own Postgres and Redis database and master key), each kept
  // as soon as it has started so that afterAll stops it even when the other did not start.
  await Promise.all([
    startStack({ VIGIL_MFA_MAX_FAILURES: '3' }, { issuerHost: 'localhost' }).then((s) => { stack = s; }),
    startStack({ VIGIL_REAUTH_SECONDS: '1' }, { issuerHost: 'localhost' }).then((s) => { stack2 = s; }),
  ]);
  [vigil, vigil2] = [stack.vigil, stack2.vigil];
  // Setup runs the CLI's own commands in-process (a dozen `vigil` processes are slow on a busy machine);
  // the commands the cases are about (require-step-up, audit verify) run as the real CLI.
  [core, core2] = await Promise.all([vigil, vigil2].map((v) => openCore(loadConfig(v.env, ROOT), createLogger('silent'))));
  const run = async <T>(c: Core, command: string, argv: string[]) => (await COMMANDS[command](c, argv)).data as T;
  const users = ['ada', 'bob', 'cy', 'dan', 'eve', 'fin', 'ray', 'kit', 'gus'];
  const created = await Promise.all([
    ...users.map((u) => run<{ id: string }>(core, 'user create', ['--email', email(u), '--password', PASSWORD, '--name', u])),
    run<{ id: string }>(core2, 'user create', ['--email', email('rex'), '--password', PASSWORD]),
  ]);
  users.forEach((u, i) => { ids[u] = created[i].id; });
  ids.rex = created[users.length].id;
  // A back-channel logout URI makes the client one that is told the session id (sid); nothing listens there.
  web = await run<ClientOut>(core, 'client create', ['--name', 'Web App', '--redirect-uri', redirectUri(), '--backchannel-logout-uri', `http://localhost:${rpPort}/backchannel`]);
  strict = await run<ClientOut>(core, 'client create', ['--name', 'Payroll', '--redirect-uri', redirectUri(), '--default-acr', TWO]);
}, 60_000);

afterAll(async () => {
  await Promise.all([core?.close(), core2?.close()]);
  await Promise.all([stack?.stop(), stack2?.stop()]);
});

// ---------------------------------------------------------------------------------------------

test('/account needs a sign-in; a wrong enrolment code enables nothing; the right one turns TOTP on with 10 recovery codes', async () => {
  const browser = new Browser();
  const first = await browser.request(`${vigil.issuer}/account`);
  expect(first.status).toBe(303);
  expect(first.location).toMatch(new RegExp(`^${vigil.issuer}/auth\\?`));
  expect(new URL(first.location!).searchParams.get('client_id')).toBe('vigil-account');

  const account = await openAccount(browser, password('ada'));
  expect(account.seen).toEqual(['login', 'account']);
  expect(account.page.body).toContain('id="account-email">ada@vigil.test<');
  expect(account.page.body).toMatch(/id="totp-status">Not set up\./);

  const enrol = await browser.submit(account.page, '/account/totp/begin', { csrf: hiddenField(account.page.body, 'csrf') });
  expect(enrol.status).toBe(200);
  const secret = enrolmentKey(enrol.body);
  secretsShown.push(secret);
  const app = new Authenticator(secret);

  const wrong = await browser.submit(enrol, '/account/totp/confirm', { csrf: hiddenField(enrol.body, 'csrf'), code: app.wrong() });
  expect(wrong.status).toBe(400);
  expect(wrong.body).toContain('That code is not correct');
  expect(recoveryCodes(wrong.body)).toEqual([]);
  expect(await totpRows(stack.db, ids.ada)).toEqual([{ confirmed: false }]);
  const still = await browser.follow(`${vigil.issuer}/account`);
  expect(still.body).toMatch(/id="totp-status">Not set up\./);

  const done = await browser.submit(wrong, '/account/totp/confirm', { csrf: hiddenField(wrong.body, 'csrf'), code: await app.next() });
  expect(done.status).toBe(200);
  const codes = recoveryCodes(done.body);
  secretsShown.push(...codes);
  expect(codes).toHaveLength(10);
  expect(new Set(codes).size).toBe(10);
  for (const code of codes) expect(code).toMatch(/^[a-z2-9]{5}-[a-z2-9]{5}$/);
  expect(await totpRows(stack.db, ids.ada)).toEqual([{ confirmed: true }]);
  const after = await browser.follow(`${vigil.issuer}/account`);
  expect(after.body).toContain('An authenticator app is set up. 10 recovery codes left.');
  adaApp = app;
});

test('acr_values=2fa: the password page, then the factor page (no password field), then tokens at 2fa with pwd+otp+mfa', async () => {
  const rp = await signInToRp(new Browser(), web, { ...password('ada'), totp: () => adaApp.next() }, { acr_values: TWO });
  expect(rp.seen).toEqual(['login', 'factor', 'consent']);
  const factorPage = rp.pages[1];
  expect(factorPage.body).not.toContain('name="password"');
  expect(factorPage.body).toContain('/totp"');
  expect(factorPage.body).toContain('/recovery"');
  expect(rp.claims.sub).toBe(ids.ada);
  expect(rp.claims.acr).toBe(TWO);
  expect(rp.claims.amr).toEqual(expect.arrayContaining(['pwd', 'otp', 'mfa']));
  expect(typeof rp.claims.auth_time).toBe('number');
  expect(Math.abs((rp.claims.auth_time as number) - Date.now() / 1000)).toBeLessThan(60);
});

test('without acr_values one factor is enough, unless the client was registered with a default acr of 2fa', async () => {
  const { app } = await enrolTotp(new Browser(), 'bob');
  const plain = await signInToRp(new Browser(), web, password('bob'));
  expect(plain.seen).toEqual(['login', 'consent']);
  expect(plain.claims.acr).toBe(ONE);
  expect(plain.claims.amr).toEqual(['pwd']);

  const enforced = await signInToRp(new Browser(), strict, { ...password('bob'), totp: () => app.next() });
  expect(enforced.seen).toEqual(['login', 'factor', 'consent']);
  expect(enforced.claims.acr).toBe(TWO);
  expect(enforced.claims.amr).toEqual(expect.arrayContaining(['pwd', 'otp', 'mfa']));
});

test('step-up: a session at 1fa asked for 2fa shows only the factor page; same sub and sid, acr 2fa', async () => {
  const { app } = await enrolTotp(new Browser(), 'cy');
  const browser = new Browser();
  const first = await signInToRp(browser, web, password('cy'));
  expect(first.claims.acr).toBe(ONE);

  const stepped = await signInToRp(browser, web, { totp: () => app.next() }, { acr_values: TWO });
  expect(stepped.seen).toEqual(['factor']);
  expect(stepped.pages[0].body).not.toContain('name="password"');
  expect(stepped.pages[0].body).toContain('Confirm it is you');
  expect(stepped.claims.acr).toBe(TWO);
  expect(stepped.claims.amr).toEqual(expect.arrayContaining(['pwd', 'otp', 'mfa']));
  expect(stepped.claims.sub).toBe(first.claims.sub);
  expect(stepped.claims.sid).toBeTruthy();
  expect(stepped.claims.sid).toBe(first.claims.sid);

  // The session is at 2fa now: asking again needs nothing.
  const again = await signInToRp(browser, web, {}, { acr_values: TWO });
  expect(again.seen).toEqual([]);
  expect(again.claims.acr).toBe(TWO);
});

test('an essential acr in the claims parameter is enforced like acr_values', async () => {
  const { app } = await enrolTotp(new Browser(), 'dan');
  const browser = danBrowser;
  const claims = JSON.stringify({ id_token: { acr: { essential: true, values: [TWO] } } });
  const essential = await signInToRp(browser, web, { ...password('dan'), totp: () => app.next() }, { claims });
  expect(essential.seen).toEqual(['login', 'factor', 'consent']);
  expect(essential.pages[1].body).not.toContain('name="password"');
  expect(essential.claims.acr).toBe(TWO);
  danAuthTime = essential.claims.auth_time as number;
});

test('max_age=0 asks for the password again even with a session', async () => {
  const browser = danBrowser;
  // Without max_age the session is enough ...
  const quiet = await signInToRp(browser, web, {});
  expect(quiet.seen).toEqual([]);
  // ... with max_age=0 it is not.
  await sleep(1100);
  const fresh = await signInToRp(browser, web, password('dan'), { max_age: '0' });
  expect(fresh.seen[0]).toBe('login');
  expect(fresh.claims.sub).toBe(ids.dan);
  expect(fresh.claims.auth_time as number).toBeGreaterThan(danAuthTime);
});

test('urn:vigil:acr:phr from a TOTP-only user: no usable factor is offered; going back gives the client unmet_authentication_requirements', async () => {
  // The password is right, but nothing this account has set up reaches that level.
  const started = await authorization(web, { acr_values: PHR });
  const phrBrowser = new Browser();
  const result = await walk(phrBrowser, started.url, password('dan'));
  expect(result.seen).toEqual(['login', 'factor']);
  const factorPage = result.page;
  expect(factorPage.status).toBe(200);
  expect(factorPage.body).not.toContain('/totp"');
  expect(factorPage.body).not.toContain('/recovery"');
  expect(factorPage.body).not.toContain('id="use-passkey"');
  // A TOTP-only account asked for phr: the page says a passkey is what is missing, and where to add one.
  expect(factorPage.body).toContain('needs a passkey or security key, and this account has none yet');
  expect(factorPage.body).toContain('href="/account"');
  expect(factorPage.body).toContain('id="back"');
  const back = await phrBrowser.submit(factorPage, formAction(factorPage.body, '/abort'), { csrf: hiddenField(factorPage.body, 'csrf'), reason: 'unmet' }, isClient);
  expect(back.location).toBeDefined();
  const location = new URL(back.location!);
  expect(location.origin + location.pathname).toBe(redirectUri());
  expect(location.searchParams.get('error')).toBe('unmet_authentication_requirements');
  expect(location.searchParams.get('state')).toBe(started.state);
  expect(location.searchParams.get('code')).toBeNull();
});

test('a wrong code is refused and stays on the factor page; a code used once is refused the second time', async () => {
  const { app, codes } = await enrolTotp(new Browser(), 'eve');
  const browser = new Browser();
  const started = await authorization(web, { acr_values: TWO });
  const atFactor = await walk(browser, started.url, password('eve'));
  expect(atFactor.seen).toEqual(['login', 'factor']);

  const wrong = await browser.submit(atFactor.page, formAction(atFactor.page.body, '/totp'), { csrf: hiddenField(atFactor.page.body, 'csrf'), code: app.wrong() }, isClient);
  expect(wrong.status).toBe(401);
  expect(kindOf(wrong)).toBe('factor');
  expect(wrong.body).toContain('That code is not correct');
  expect(wrong.location).toBeUndefined();

  // The right code in the same interaction signs in.
  const code = await app.next();
  const ok = await browser.submit(wrong, formAction(wrong.body, '/totp'), { csrf: hiddenField(wrong.body, 'csrf'), code }, isClient);
  const tokens = await started.redeem((await walkFrom(browser, ok, {})).callback!);
  expect(tokens.claims()!.acr).toBe(TWO);

  // The same code in another sign-in: refused, it was used already.
  const other = new Browser();
  const second = await signInToRpExpectingFactor(other, 'eve');
  const replayed = await other.submit(second.page, formAction(second.page.body, '/totp'), { csrf: hiddenField(second.page.body, 'csrf'), code }, isClient);
  expect(replayed.status).toBe(401);
  expect(kindOf(replayed)).toBe('factor');
  expect(replayed.body).toContain('That code was already used');

  // A recovery code works once ...
  const recovered = await other.submit(replayed, formAction(replayed.body, '/recovery'), { csrf: hiddenField(replayed.body, 'csrf'), code: codes[0] }, isClient);
  const afterRecovery = await walkFrom(other, recovered, {});
  expect(afterRecovery.seen).toEqual(['consent']);
  expect(afterRecovery.callback).toBeDefined();
  const recoveredTokens = await second.started.redeem(afterRecovery.callback!);
  expect(recoveredTokens.claims()!.acr).toBe(TWO);
  expect(recoveredTokens.claims()!.amr).toEqual(expect.arrayContaining(['pwd', 'otp', 'mfa']));

  // ... and not twice.
  const third = new Browser();
  const again = await signInToRpExpectingFactor(third, 'eve');
  const reused = await third.submit(again.page, formAction(again.page.body, '/recovery'), { csrf: hiddenField(again.page.body, 'csrf'), code: codes[0] }, isClient);
  expect(reused.status).toBe(401);
  expect(kindOf(reused)).toBe('factor');
  expect(reused.body).toContain('That recovery code is not correct or was already used.');
  const account = await openAccount(new Browser(), password('eve'));
  expect(account.page.body).toContain('9 recovery codes left.');
});

/** An authorization at acr 2fa taken to the factor page (password given). */
async function signInToRpExpectingFactor(browser: Browser, name: string, client = web) {
  const started = await authorization(client, { acr_values: TWO });
  const result = await walk(browser, started.url, password(name));
  expect(result.seen).toEqual(['login', 'factor']);
  return { ...result, started };
}

test('the factor endpoints refuse a browser that has not passed the password step, and a wrong CSRF value', async () => {
  const { app } = await enrolTotp(new Browser(), 'fin');
  const browser = new Browser();
  const started = await authorization(web, { acr_values: TWO });
  const login = await walk(browser, started.url, {});
  expect(login.seen).toEqual(['login']);
  const uid = /\/interaction\/([^/]+)\/login"/.exec(login.page.body)![1];
  const csrf = hiddenField(login.page.body, 'csrf');

  for (const [path, code] of [['totp', app.codeAt(Math.floor(Date.now() / 30_000))], ['recovery', 'abcde-fghjk']] as const) {
    const { response, body } = await post(browser, `/interaction/${uid}/${path}`, { csrf, code });
    expect(response.status).toBe(400);
    expect(body).toContain('Enter your password first.');
    expect(response.headers.get('location')).toBeNull();
  }
  // Nobody is signed in: the interaction still asks for the password.
  const still = await browser.request(`${vigil.issuer}/interaction/${uid}`);
  expect(kindOf(still)).toBe('login');

  // A wrong CSRF value on the password form is refused too, and signs no one in.
  const forged = await post(browser, `/interaction/${uid}/login`, { csrf: `${csrf.slice(0, -2)}xx`, email: email('fin'), password: PASSWORD });
  expect(forged.response.status).toBe(400);
  expect(forged.body).toContain('form has expired or did not come from this page');
  expect(kindOf(await browser.request(`${vigil.issuer}/interaction/${uid}`))).toBe('login');

  // At the factor page, a right code with a wrong CSRF value is refused and not spent.
  const factor = await walk(browser, `${vigil.issuer}/interaction/${uid}`, password('fin'));
  expect(factor.seen).toEqual(['login', 'factor']);
  const code = await app.next();
  const refused = await post(browser, formAction(factor.page.body, '/totp'), { csrf: 'not-the-csrf-value', code });
  expect(refused.response.status).toBe(400);
  expect(refused.body).toContain('form has expired or did not come from this page');
  expect(refused.response.headers.get('location')).toBeNull();
  const accepted = await browser.submit(factor.page, formAction(factor.page.body, '/totp'), { csrf: hiddenField(factor.page.body, 'csrf'), code }, isClient);
  const done = await walkFrom(browser, accepted, {});
  expect(done.seen).toEqual(['consent']);
  const tokens = await started.redeem(done.callback!);
  expect(tokens.claims()!.acr).toBe(TWO);
  expect(tokens.claims()!.sub).toBe(ids.fin);
});

test('after VIGIL_MFA_MAX_FAILURES wrong codes even the right code gets 429 with Retry-After', async () => {
  const { app } = await enrolTotp(new Browser(), 'ray');
  const browser = new Browser();
  let page = (await signInToRpExpectingFactor(browser, 'ray')).page;
  for (let i = 0; i < 3; i++) {
    page = await browser.submit(page, formAction(page.body, '/totp'), { csrf: hiddenField(page.body, 'csrf'), code: app.wrong() }, isClient);
    expect(page.status).toBe(401);
  }
  const { response, body } = await post(browser, formAction(page.body, '/totp'), { csrf: hiddenField(page.body, 'csrf'), code: await app.next() });
  expect(response.status).toBe(429);
  expect(Number(response.headers.get('retry-after'))).toBeGreaterThan(0);
  expect(body).toContain('Too many wrong codes. Try again in');
  expect(response.headers.get('location')).toBeNull();
});

test('changing a sign-in method needs a recent sign-in (VIGIL_REAUTH_SECONDS=1)', async () => {
  const browser = new Browser();
  const account = await openAccount(browser, password('rex'), vigil2.issuer);
  expect(account.seen).toEqual(['login', 'account']);
  await sleep(2100);
  const { response } = await fetch(`${vigil2.issuer}/account/totp/begin`, {
    method: 'POST',
    redirect: 'manual',
    headers: { cookie: browser.jar.header(), accept: 'text/html', 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ csrf: hiddenField(account.page.body, 'csrf') }).toString(),
  }).then(async (r) => ({ response: r, body: await r.text() }));
  expect(response.status).toBe(303);
  const location = new URL(response.headers.get('location')!, vigil2.issuer);
  expect(location.origin + location.pathname).toBe(`${vigil2.issuer}/auth`);
  expect(location.searchParams.get('prompt')).toBe('login');
  expect(location.searchParams.get('client_id')).toBe('vigil-account');
  expect(await totpRows(stack2.db, ids.rex)).toEqual([]);
  const page = await browser.follow(`${vigil2.issuer}/account`);
  expect(page.body).toMatch(/id="totp-status">Not set up\./);
});

test('a credential change ends the other sessions: their refresh tokens and account pages stop working', async () => {
  const a = new Browser();
  const b = new Browser();
  const accountA = await openAccount(a, password('kit'));
  expect(accountA.seen).toEqual(['login', 'account']);
  const rpB = await signInToRp(b, web, password('kit'));
  expect(rpB.tokens.refresh_token).toBeTruthy();
  const accountB = await openAccount(b, {});
  expect(accountB.seen).toEqual(['account']);
  // Still good before the change.
  const rotated = await oidc.refreshTokenGrant(rpB.started.config, rpB.tokens.refresh_token!);

  const enrol = await a.submit(accountA.page, '/account/totp/begin', { csrf: hiddenField(accountA.page.body, 'csrf') });
  const secret = enrolmentKey(enrol.body);
  secretsShown.push(secret);
  const done = await a.submit(enrol, '/account/totp/confirm', { csrf: hiddenField(enrol.body, 'csrf'), code: await new Authenticator(secret).next() });
  expect(recoveryCodes(done.body)).toHaveLength(10);
  secretsShown.push(...recoveryCodes(done.body));

  await expect(oidc.refreshTokenGrant(rpB.started.config, rotated.refresh_token!)).rejects.toMatchObject({ error: 'invalid_grant' });
  const pageB = await b.request(`${vigil.issuer}/account`);
  expect(pageB.status).toBe(303);
  expect(pageB.location).toMatch(new RegExp(`^${vigil.issuer}/auth\\?`));
  expect(kindOf(await b.follow(`${vigil.issuer}/account`))).toBe('login');
  // A, who made the change, is still signed in.
  const pageA = await a.follow(`${vigil.issuer}/account`);
  expect(kindOf(pageA)).toBe('account');
  expect(pageA.body).toContain('An authenticator app is set up.');
});

test('an administrator\'s step-up: refresh refused until the session steps up; the old refresh token stays refused', async () => {
  const browser = new Browser();
  const { app } = await enrolTotp(browser, 'gus');
  const before = await signInToRp(browser, web, {});
  expect(before.seen).toEqual(['consent']);
  expect(before.claims.acr).toBe(ONE);
  const old = before.tokens.refresh_token!;

  const required = await vigilCli<{ acr: string; sessions: number }>(vigil.env, ['user', 'require-step-up', '--email', email('gus'), '--acr', TWO]);
  expect(required.acr).toBe(TWO);
  expect(required.sessions).toBe(1);

  const refused = await oidc.refreshTokenGrant(before.started.config, old).then(() => undefined, (e: unknown) => e as { error?: string; error_description?: string });
  expect(refused).toMatchObject({ error: 'invalid_grant' });
  expect(refused!.error_description).toMatch(/step-up/);

  const stepped = await signInToRp(browser, web, { totp: () => app.next() });
  expect(stepped.seen).toEqual(['factor']);
  expect(stepped.pages[0].body).not.toContain('name="password"');
  expect(stepped.claims.acr).toBe(TWO);
  expect(stepped.claims.sub).toBe(ids.gus);
  expect(stepped.claims.sid).toBe(before.claims.sid);

  const refreshed = await oidc.refreshTokenGrant(stepped.started.config, stepped.tokens.refresh_token!);
  expect(refreshed.access_token).toBeTruthy();
  expect(refreshed.refresh_token).toBeTruthy();
  await expect(oidc.refreshTokenGrant(before.started.config, old)).rejects.toMatchObject({ error: 'invalid_grant' });
});

test('the audit chain is intact after all of this, and no TOTP secret or recovery code reached the logs', async () => {
  const [one, two] = await Promise.all([
    vigilCli<{ ok: boolean; entries: number }>(vigil.env, ['audit', 'verify']),
    vigilCli<{ ok: boolean; entries: number }>(vigil2.env, ['audit', 'verify']),
  ]);
  expect(one.ok).toBe(true);
  expect(one.entries).toBeGreaterThan(20);
  expect(two.ok).toBe(true);
  const logs = vigil.output() + vigil2.output();
  expect(secretsShown.length).toBeGreaterThan(50);
  for (const secret of secretsShown) expect(logs).not.toContain(secret);
  expect(logs).not.toContain(PASSWORD);
});
