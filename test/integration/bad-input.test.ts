/**
 * Malformed and hostile requests against a running Vigil (Postgres + Redis). Every answer must be
 * the precise OAuth error (RFC 6749, 6750, 7591, 7662, 7009) with the right status, as JSON for
 * API endpoints or as a readable page for browser pages — never a 500, never a stack trace.
 */
import * as oidc from 'openid-client';
import { vigilCli, type VigilProcess } from '../support/vigil-process.ts';
import { Browser, formAction, hiddenField, signIn, type Page } from '../support/browserless.ts';
import { startStack, type ClientOut, type Stack } from '../support/stack.ts';

const PASSWORD = 'correct horse battery staple 9';
const LOCKED_PASSWORD = 'another long password 42';
const API = 'https://api.vigil.test';
/** Never contacted: every flow here stops at the redirect to it. */
const REDIRECT = 'http://127.0.0.1:9/cb';
const MAX_FAILURES = 3;

let stack: Stack;
let vigil: VigilProcess;
let web: ClientOut;
let publicClient: ClientOut;
let api: ClientOut;
let machine: ClientOut;
let initialAccessToken: string;

beforeAll(async () => {
  stack = await startStack({ VIGIL_LOGIN_MAX_FAILURES_PER_ACCOUNT: String(MAX_FAILURES) });
  const { env } = stack;
  vigil = stack.vigil;
  await vigilCli(env, ['user', 'create', '--email', 'ada@vigil.test', '--password', PASSWORD, '--name', 'Ada']);
  await vigilCli(env, ['user', 'create', '--email', 'grace@vigil.test', '--password', LOCKED_PASSWORD, '--name', 'Grace']);
  web = await vigilCli(env, ['client', 'create', '--name', 'Web App', '--redirect-uri', REDIRECT]);
  publicClient = await vigilCli(env, ['client', 'create', '--name', 'SPA', '--public', '--redirect-uri', REDIRECT]);
  api = await vigilCli(env, ['client', 'create', '--name', 'Things API', '--resource-server', '--resource', API, '--scope', 'read:things']);
  machine = await vigilCli(env, ['client', 'create', '--name', 'Batch job', '--grant-type', 'client_credentials']);
  ({ initial_access_token: initialAccessToken } = await vigilCli<{ initial_access_token: string }>(env, ['registration-token', 'create']));
}, 120_000);

afterAll(() => stack?.stop());

// ---------------------------------------------------------------------------------------------
// Request helpers

interface Outcome {
  status: number;
  headers: Headers;
  body: string;
  location?: string;
}

async function send(path: string, init: RequestInit = {}): Promise<Outcome> {
  const url = path.startsWith('http') ? path : `${vigil.url}${path}`;
  const res = await fetch(url, { redirect: 'manual', ...init });
  const body = await res.text();
  const location = res.headers.get('location') ?? undefined;
  return { status: res.status, headers: res.headers, body, location: location ? new URL(location, url).toString() : undefined };
}

const basic = (id: string, secret: string) =>
  `Basic ${Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`).toString('base64')}`;
const authOf = (c: ClientOut) => basic(c.client_id, c.client_secret!);

type Params = Record<string, string> | Array<[string, string]>;
const FORM = 'application/x-www-form-urlencoded';

function postForm(path: string, params: Params, headers: Record<string, string> = {}): Promise<Outcome> {
  return send(path, { method: 'POST', headers: { 'content-type': FORM, ...headers }, body: new URLSearchParams(params).toString() });
}

function postJson(path: string, body: unknown, headers: Record<string, string> = {}): Promise<Outcome> {
  return send(path, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: typeof body === 'string' ? body : JSON.stringify(body) });
}

/** POST /reg with the initial access token, another bearer token, or (null) none at all. */
const register = (metadata: unknown, token: string | null = initialAccessToken) =>
  postJson('/reg', metadata, token === null ? {} : { authorization: `Bearer ${token}` });

/** An authorization request as a browser sends it. */
function authorize(params: Record<string, string>): Promise<Outcome> {
  return send(`/auth?${new URLSearchParams(params)}`, { headers: { accept: 'text/html' } });
}

const S256 = { code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM', code_challenge_method: 'S256' };

/** A real interaction: a browser that followed an authorization request to the login page. */
async function loginPage(): Promise<{ browser: Browser; page: Page; uid: string; action: string; csrf: string }> {
  const browser = new Browser();
  const page = await browser.follow(`${vigil.url}/auth?${new URLSearchParams({ client_id: web.client_id, redirect_uri: REDIRECT, response_type: 'code', scope: 'openid email', ...S256 })}`);
  expect(page.status).toBe(200);
  const action = formAction(page.body, '/login');
  const uid = /\/interaction\/([^/]+)\/login/.exec(action)![1];
  return { browser, page, uid, action, csrf: hiddenField(page.body, 'csrf') };
}

async function postLogin(browser: Browser, action: string, body: string, contentType = FORM): Promise<Page> {
  return browser.request(new URL(action, vigil.url).toString(), { method: 'POST', headers: { 'content-type': contentType }, body });
}

/** A code issued to the web client for a PKCE challenge made from `verifier`. */
async function codeFor(verifier: string): Promise<string> {
  const url = `${vigil.url}/auth?${new URLSearchParams({
    client_id: web.client_id, redirect_uri: REDIRECT, response_type: 'code', scope: 'openid', prompt: 'consent',
    code_challenge: await oidc.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256',
  })}`;
  const callback = await signIn(new Browser(), url, 'ada@vigil.test', PASSWORD, REDIRECT);
  const code = new URL(callback).searchParams.get('code');
  if (!code) throw new Error(`no code in ${callback}`);
  return code;
}

// ---------------------------------------------------------------------------------------------
// What every answer must (not) be

const STACK = [/\n\s+at /, /\bat [^\s]*\/[^\s]*\.(?:[cm]?js|ts):\d+/, /node_modules/, /\.ts:\d+:\d+/];

function expectNoLeak(out: Outcome) {
  expect(out.status).not.toBe(500);
  expect(out.status).toBeLessThan(500);
  for (const pattern of STACK) expect(out.body).not.toMatch(pattern);
}

function expectJsonError(out: Outcome, status: number, error: string) {
  expectNoLeak(out);
  expect({ status: out.status, body: out.body }).toEqual({ status, body: expect.any(String) });
  expect(out.headers.get('content-type')).toMatch(/^application\/json/);
  const json = JSON.parse(out.body) as { error?: unknown; error_description?: unknown };
  expect(json.error).toBe(error);
  if (json.error_description !== undefined) expect(typeof json.error_description).toBe('string');
  expect(out.location).toBeUndefined();
}

function expectPage(out: Outcome, status: number, error?: string) {
  expectNoLeak(out);
  expect({ status: out.status, location: out.location }).toEqual({ status, location: undefined });
  expect(out.headers.get('content-type')).toMatch(/^text\/html/);
  expect(out.body).toMatch(/^<!DOCTYPE html>/i);
  expect(out.body).toContain('<main');
  if (error) expect(out.body).toContain(`<code id="error-code">${error}</code>`);
  // Readable: a sentence for a person, not just markup.
  expect(out.body).toMatch(/<p class="error" role="alert"[^>]*>[^<]{10,}</);
}

function expectRedirectError(out: Outcome, error: string, description?: RegExp) {
  expectNoLeak(out);
  expect([302, 303]).toContain(out.status);
  expect(out.location).toBeDefined();
  expect(out.location!.startsWith(REDIRECT)).toBe(true);
  const location = new URL(out.location!);
  const params = location.searchParams.has('error') ? location.searchParams : new URLSearchParams(location.hash.slice(1));
  expect(params.get('error')).toBe(error);
  expect(params.get('iss')).toBe(vigil.issuer);
  if (description) expect(params.get('error_description')).toMatch(description);
}

type Expectation =
  | { json: string; status: number; check?: (out: Outcome) => void }
  | { page: number; error?: string; check?: (out: Outcome) => void }
  | { redirect: string; description?: RegExp; check?: (out: Outcome) => void }
  | { other: number; check: (out: Outcome) => void };

type Case = [name: string, run: () => Promise<Outcome>, expected: Expectation];

function verify(out: Outcome, expected: Expectation) {
  if ('json' in expected) expectJsonError(out, expected.status, expected.json);
  else if ('page' in expected) expectPage(out, expected.page, expected.error);
  else if ('redirect' in expected) expectRedirectError(out, expected.redirect, expected.description);
  else {
    expectNoLeak(out);
    expect(out.status).toBe(expected.other);
  }
  expected.check?.(out);
}

/** RFC 6749 §5.2: a 401 from a client-authenticated endpoint names the scheme to use. */
const basicChallenge = (out: Outcome) => expect(out.headers.get('www-authenticate')).toMatch(/^Basic realm="/);
const describes = (pattern: RegExp) => (out: Outcome) => expect((JSON.parse(out.body) as { error_description?: string }).error_description).toMatch(pattern);
const allows = (methods: string) => (out: Outcome) => expect(out.headers.get('allow')).toBe(methods);
const inFragment = (out: Outcome) => {
  const location = new URL(out.location!);
  expect(location.search).toBe('');
  expect(new URLSearchParams(location.hash.slice(1)).get('state')).toBe('s1');
};

const bearerChallenge = (error?: string) => (out: Outcome) => {
  const header = out.headers.get('www-authenticate') ?? '';
  expect(header).toMatch(/^Bearer realm="/);
  if (error) expect(header).toContain(`error="${error}"`);
  else expect(header).not.toContain('error=');
};

// ---------------------------------------------------------------------------------------------
// The table

const tokenCases: Case[] = [
  ['/token without grant_type', () => postForm('/token', { scope: 'openid' }, { authorization: authOf(web) }), { json: 'invalid_request', status: 400 }],
  ['/token with an unknown grant_type', () => postForm('/token', { grant_type: 'urn:vigil:nope' }, { authorization: authOf(web) }), { json: 'unsupported_grant_type', status: 400 }],
  ['/token with grant_type twice', () => postForm('/token', [['grant_type', 'client_credentials'], ['grant_type', 'client_credentials']], { authorization: authOf(machine) }), { json: 'invalid_request', status: 400 }],
  ['/token with a JSON body', () => postJson('/token', { grant_type: 'client_credentials' }, { authorization: authOf(machine) }), { json: 'invalid_request', status: 400 }],
  ['/token with a 200 KB form', () => postForm('/token', { grant_type: 'client_credentials', padding: 'x'.repeat(200 * 1024) }, { authorization: authOf(machine) }), { json: 'invalid_request', status: 413 }],
  ['/token with a wrong client secret', () => postForm('/token', { grant_type: 'client_credentials' }, { authorization: basic(machine.client_id, 'not-the-secret') }), { json: 'invalid_client', status: 401, check: basicChallenge }],
  ['/token with an unknown client', () => postForm('/token', { grant_type: 'client_credentials' }, { authorization: basic('no-such-client', 'whatever') }), { json: 'invalid_client', status: 401, check: basicChallenge }],
  ['/token without any client authentication', () => postForm('/token', { grant_type: 'client_credentials' }), { json: 'invalid_client', status: 401, check: basicChallenge }],
  ['GET /token', () => send('/token?grant_type=client_credentials', { headers: { authorization: authOf(machine) } }), { json: 'invalid_request', status: 405, check: allows('POST') }],
  ['/token with a made-up authorization code', () => postForm('/token', { grant_type: 'authorization_code', code: 'made-up-code', redirect_uri: REDIRECT, code_verifier: 'v'.repeat(43) }, { authorization: authOf(web) }), { json: 'invalid_grant', status: 400 }],
  ['/token with a real code and the wrong code_verifier', async () => {
    const code = await codeFor(oidc.randomPKCECodeVerifier());
    return postForm('/token', { grant_type: 'authorization_code', code, redirect_uri: REDIRECT, code_verifier: oidc.randomPKCECodeVerifier() }, { authorization: authOf(web) });
  }, { json: 'invalid_grant', status: 400 }],
  ['/token with a garbage refresh token', () => postForm('/token', { grant_type: 'refresh_token', refresh_token: 'garbage' }, { authorization: authOf(web) }), { json: 'invalid_grant', status: 400 }],
  ['/token client_credentials for an unknown resource', () => postForm('/token', { grant_type: 'client_credentials', resource: 'https://unknown.vigil.test' }, { authorization: authOf(machine) }), { json: 'invalid_target', status: 400 }],
];

const authCases: Case[] = [
  ['/auth without client_id', () => authorize({ redirect_uri: REDIRECT, response_type: 'code', scope: 'openid' }), { page: 400, error: 'invalid_request' }],
  ['/auth with an unknown client_id', () => authorize({ client_id: 'no-such-client', redirect_uri: REDIRECT, response_type: 'code', scope: 'openid' }), { page: 400, error: 'invalid_client' }],
  ['/auth with an unregistered redirect_uri (no redirect)', () => authorize({ client_id: web.client_id, redirect_uri: 'https://evil.example/cb', response_type: 'code', scope: 'openid', ...S256 }), { page: 400, error: 'invalid_redirect_uri' }],
  ['/auth with response_type=token (error in the fragment)', () => authorize({ client_id: web.client_id, redirect_uri: REDIRECT, response_type: 'token', scope: 'openid', state: 's1' }), {
    redirect: 'unsupported_response_type', check: inFragment,
  }],
  ['/auth with scope given twice', () => send(`/auth?${new URLSearchParams([['client_id', web.client_id], ['redirect_uri', REDIRECT], ['response_type', 'code'], ['scope', 'openid'], ['scope', 'email']])}`, { headers: { accept: 'text/html' } }), {
    redirect: 'invalid_request', description: /scope/,
  }],
  ['/auth with a malformed scope (RFC 6749 §3.3 characters)', () => authorize({ client_id: web.client_id, redirect_uri: REDIRECT, response_type: 'code', scope: 'openid "quoted\\', ...S256 }), {
    redirect: 'invalid_scope',
  }],
  ['/auth without the openid scope', () => authorize({ client_id: web.client_id, redirect_uri: REDIRECT, response_type: 'code', scope: 'email', ...S256 }), {
    redirect: 'invalid_request', description: /openid/,
  }],
  ['/auth with an unknown scope next to openid (ignored, RFC 6749 §3.3)', () => authorize({ client_id: web.client_id, redirect_uri: REDIRECT, response_type: 'code', scope: 'openid no-such-scope', ...S256 }), {
    other: 303, check: (out) => expect(new URL(out.location!).pathname).toMatch(/^\/interaction\/[\w-]+$/),
  }],
  ['/auth with an unknown resource', () => authorize({ client_id: web.client_id, redirect_uri: REDIRECT, response_type: 'code', scope: 'openid', resource: 'https://unknown.vigil.test', ...S256 }), {
    redirect: 'invalid_target',
  }],
  ['/auth with a resource that is not an absolute URI', () => authorize({ client_id: web.client_id, redirect_uri: REDIRECT, response_type: 'code', scope: 'openid', resource: 'not a uri', ...S256 }), {
    redirect: 'invalid_target',
  }],
  ['PUT /auth', () => send(`/auth?client_id=${web.client_id}`, { method: 'PUT', headers: { accept: 'text/html' } }), { page: 405, error: 'invalid_request' }],
  ['/auth from a public client without code_challenge', () => authorize({ client_id: publicClient.client_id, redirect_uri: REDIRECT, response_type: 'code', scope: 'openid', state: 'x' }), {
    redirect: 'invalid_request', description: /PKCE/,
  }],
];

const introspectionRevocationCases: Case[] = (['/token/introspection', '/token/revocation'] as const).flatMap((path): Case[] => [
  [`${path} without client authentication`, () => postForm(path, { token: 'some-token' }), { json: 'invalid_client', status: 401, check: basicChallenge }],
  [`${path} with a wrong client secret`, () => postForm(path, { token: 'some-token' }, { authorization: basic(api.client_id, 'not-the-secret') }), { json: 'invalid_client', status: 401, check: basicChallenge }],
  [`${path} without the token parameter`, () => postForm(path, {}, { authorization: authOf(path === '/token/introspection' ? api : machine) }), { json: 'invalid_request', status: 400 }],
  [`GET ${path}`, () => send(`${path}?token=some-token`, { headers: { authorization: authOf(api) } }), { json: 'invalid_request', status: 405, check: allows('POST') }],
]);

const registrationCases: Case[] = [
  ['/reg without an initial access token', () => register({ redirect_uris: ['https://rp.vigil.test/cb'] }, null), { json: 'invalid_token', status: 401, check: bearerChallenge() }],
  ['/reg with a bad initial access token', () => register({ redirect_uris: ['https://rp.vigil.test/cb'] }, 'not-a-real-token'), { json: 'invalid_token', status: 401, check: bearerChallenge('invalid_token') }],
  ['/reg with a body that is not JSON', () => register('{"redirect_uris": ["https://rp.vigil.test/cb"'), { json: 'invalid_request', status: 400 }],
  ['/reg with a form body', () => postForm('/reg', { redirect_uris: 'https://rp.vigil.test/cb' }, { authorization: `Bearer ${initialAccessToken}` }), { json: 'invalid_request', status: 400 }],
  ['/reg web client with an http redirect URI off localhost', () => register({ redirect_uris: ['http://rp.vigil.test/cb'] }), { json: 'invalid_redirect_uri', status: 400, check: describes(/https/) }],
  ['/reg with a redirect URI carrying a fragment', () => register({ redirect_uris: ['https://rp.vigil.test/cb#frag'] }), { json: 'invalid_redirect_uri', status: 400 }],
  ['/reg with an unknown grant type', () => register({ redirect_uris: ['https://rp.vigil.test/cb'], grant_types: ['authorization_code', 'urn:vigil:made-up'] }), { json: 'invalid_client_metadata', status: 400 }],
  // RFC 7591 §3.2.2 has an error for exactly this field: the client's (absent) redirection URIs are invalid.
  ['/reg without redirect_uris', () => register({ client_name: 'No redirects' }), { json: 'invalid_redirect_uri', status: 400 }],
  ['GET /reg', () => send('/reg', { headers: { authorization: `Bearer ${initialAccessToken}` } }), { json: 'invalid_request', status: 405, check: allows('POST') }],
  ['/reg asking for vigil_introspection', () => register({ redirect_uris: ['https://rp.vigil.test/cb'], vigil_introspection: true }), { json: 'invalid_client_metadata', status: 400, check: describes(/vigil_introspection/) }],
];

const userinfoCases: Case[] = [
  ['/me without a token', () => send('/me'), { json: 'invalid_token', status: 401, check: bearerChallenge() }],
  ['/me with a garbage bearer token', () => send('/me', { headers: { authorization: 'Bearer garbage' } }), { json: 'invalid_token', status: 401, check: bearerChallenge('invalid_token') }],
];

/** A POST from the browser that holds the interaction cookies, answered as an Outcome. */
async function browserPost(browser: Browser, action: string, body: string, contentType = FORM, accept = 'text/html'): Promise<Outcome> {
  const res = await fetch(new URL(action, vigil.url), { method: 'POST', redirect: 'manual', headers: { cookie: browser.jar.header(), accept, 'content-type': contentType }, body });
  return { status: res.status, headers: res.headers, body: await res.text(), location: res.headers.get('location') ?? undefined };
}

const JSON_ACCEPT = 'application/json';

const interactionCases: Case[] = [
  ['POST /interaction/<uid>/login with a wrong csrf', async () => {
    const { browser, action } = await loginPage();
    return browserPost(browser, action, new URLSearchParams({ csrf: 'forged', email: 'ada@vigil.test', password: PASSWORD }).toString());
  }, { page: 400, error: 'invalid_request' }],
  ['POST /interaction/<uid>/login as JSON', async () => {
    const { browser, action, csrf } = await loginPage();
    return browserPost(browser, action, JSON.stringify({ csrf, email: 'ada@vigil.test', password: PASSWORD }), 'application/json');
  }, { page: 415, error: 'invalid_request' }],
  ['POST /interaction/<uid>/login with a duplicated field', async () => {
    const { browser, action, csrf } = await loginPage();
    return browserPost(browser, action, new URLSearchParams([['csrf', csrf], ['email', 'ada@vigil.test'], ['email', 'root@vigil.test'], ['password', PASSWORD]]).toString());
  }, { page: 400, error: 'invalid_request' }],
  ['GET /interaction/unknown-uid with a live interaction cookie', async () => {
    const { browser } = await loginPage();
    return send('/interaction/unknown-uid', { headers: { cookie: browser.jar.header(), accept: 'text/html' } });
  }, { page: 400, error: 'invalid_request' }],
  ['POST /interaction/<uid>/webauthn/options as a form', async () => {
    const { browser, uid, csrf } = await loginPage();
    return browserPost(browser, `/interaction/${uid}/webauthn/options`, new URLSearchParams({ csrf }).toString(), FORM, JSON_ACCEPT);
  }, { json: 'invalid_request', status: 415 }],
  ['POST /interaction/<uid>/webauthn/options with invalid JSON', async () => {
    const { browser, uid } = await loginPage();
    return browserPost(browser, `/interaction/${uid}/webauthn/options`, '{"csrf": ', 'application/json', JSON_ACCEPT);
  }, { json: 'invalid_request', status: 400 }],
  ['POST /interaction/<uid>/webauthn/options with a forged csrf', async () => {
    const { browser, uid } = await loginPage();
    return browserPost(browser, `/interaction/${uid}/webauthn/options`, JSON.stringify({ csrf: 'forged' }), 'application/json', JSON_ACCEPT);
  }, { json: 'invalid_request', status: 400 }],
  ['POST /interaction/<uid>/webauthn/verify with a garbage response', async () => {
    const { browser, uid, csrf } = await loginPage();
    await browserPost(browser, `/interaction/${uid}/webauthn/options`, JSON.stringify({ csrf }), 'application/json', JSON_ACCEPT);
    return browserPost(browser, `/interaction/${uid}/webauthn/verify`, JSON.stringify({ csrf, response: 'garbage' }), 'application/json', JSON_ACCEPT);
  }, { json: 'invalid_request', status: 400 }],
  ['POST /interaction/<uid>/webauthn/verify with a malformed credential object', async () => {
    const { browser, uid, csrf } = await loginPage();
    await browserPost(browser, `/interaction/${uid}/webauthn/options`, JSON.stringify({ csrf }), 'application/json', JSON_ACCEPT);
    return browserPost(browser, `/interaction/${uid}/webauthn/verify`, JSON.stringify({ csrf, response: { id: 42, response: null } }), 'application/json', JSON_ACCEPT);
  }, { json: 'invalid_request', status: 400 }],
  ['POST /interaction/<uid>/webauthn/verify with an array body', async () => {
    const { browser, uid } = await loginPage();
    return browserPost(browser, `/interaction/${uid}/webauthn/verify`, '[]', 'application/json', JSON_ACCEPT);
  }, { json: 'invalid_request', status: 400 }],
  ['POST /account/passkeys/options while signed out', () => postJson('/account/passkeys/options', {}, { accept: 'application/json' }), { json: 'login_required', status: 401 }],
  ['GET /interaction/unknown-uid without cookies', () => send('/interaction/unknown-uid', { headers: { accept: 'text/html' } }), { page: 400, error: 'invalid_request' }],
];

test.each<Case>([
  ...tokenCases,
  ...authCases,
  ...introspectionRevocationCases,
  ...registrationCases,
  ...userinfoCases,
])('%s', async (_name, run, expected) => {
  verify(await run(), expected);
});

test.each<Case>(interactionCases)('%s', async (_name, run, expected) => {
  verify(await run(), expected);
});

test('a forged csrf does not sign anyone in: the interaction still asks for the password', async () => {
  const { browser, action, uid } = await loginPage();
  const refused = await postLogin(browser, action, new URLSearchParams({ csrf: 'forged', email: 'ada@vigil.test', password: PASSWORD }).toString());
  expect(refused.status).toBe(400);
  expect(refused.location).toBeUndefined();
  const again = await browser.request(`${vigil.url}/interaction/${uid}`);
  expect(again.status).toBe(200);
  expect(again.body).toContain('name="password"');
});

// ---------------------------------------------------------------------------------------------
// Login rate limit

describe('login rate limit', () => {
  const errorText = (body: string) => /<p class="error" role="alert" id="error">([^<]*)<\/p>/.exec(body)?.[1];
  /** The page without the echoed email, the csrf token and the interaction id. */
  const normalize = (page: Page, email: string, uid: string) => page.body
    .replaceAll(email, '<email>')
    .replaceAll(uid, '<uid>')
    .replace(/name="csrf" value="[^"]*"/g, 'name="csrf" value="<csrf>"')
    .replace(/data-csrf="[^"]*"/g, 'data-csrf="<csrf>"');

  async function attempt(email: string, password: string) {
    const { browser, action, csrf, uid } = await loginPage();
    const page = await postLogin(browser, action, new URLSearchParams({ csrf, email, password }).toString());
    return { page, uid };
  }

  test('a wrong password and an unknown email look the same', async () => {
    const wrong = await attempt('ada@vigil.test', 'not the password at all');
    const unknown = await attempt('nobody@vigil.test', 'not the password at all');
    expect(wrong.page.status).toBe(401);
    expect(unknown.page.status).toBe(401);
    expectNoLeak({ ...wrong.page, headers: new Headers() });
    expect(errorText(wrong.page.body)).toBe('The email or password is not correct.');
    expect(normalize(unknown.page, 'nobody@vigil.test', unknown.uid)).toBe(normalize(wrong.page, 'ada@vigil.test', wrong.uid));
    // A successful sign-in clears the count for ada, so the tests below start from zero.
    await codeFor(oidc.randomPKCECodeVerifier());
  });

  test(`after ${MAX_FAILURES} wrong passwords even the right one gets 429 with Retry-After`, async () => {
    const { browser, action, uid } = await loginPage();
    let page: Page | undefined;
    for (let i = 0; i < MAX_FAILURES; i++) {
      const csrf = hiddenField(page?.body ?? (await browser.request(`${vigil.url}/interaction/${uid}`)).body, 'csrf');
      page = await postLogin(browser, action, new URLSearchParams({ csrf, email: 'grace@vigil.test', password: `wrong password ${i}` }).toString());
      expect(page.status).toBe(401);
    }
    const res = await fetch(new URL(action, vigil.url), {
      method: 'POST', redirect: 'manual',
      headers: { cookie: browser.jar.header(), accept: 'text/html', 'content-type': FORM },
      body: new URLSearchParams({ csrf: hiddenField(page!.body, 'csrf'), email: 'grace@vigil.test', password: LOCKED_PASSWORD }).toString(),
    });
    const body = await res.text();
    expect(res.status).toBe(429);
    expect(res.headers.get('location')).toBeNull();
    const retryAfter = Number(res.headers.get('retry-after'));
    expect(Number.isInteger(retryAfter)).toBe(true);
    expect(retryAfter).toBeGreaterThan(0);
    expect(retryAfter).toBeLessThanOrEqual(900);
    expect(res.headers.get('content-type')).toMatch(/^text\/html/);
    expect(errorText(body)).toMatch(/^Too many failed attempts\. Try again in \d+ (seconds?|minutes?)\.$/);
    expectNoLeak({ status: res.status, headers: res.headers, body });
    // Still the login page: nobody was signed in.
    expect(body).toContain('name="password"');
  });

  test('a locked unknown email gets the same 429 page as a locked real account', async () => {
    for (let i = 0; i < MAX_FAILURES; i++) expect((await attempt('ghost@vigil.test', `wrong ${i}`)).page.status).toBe(401);
    const ghost = await attempt('ghost@vigil.test', 'wrong again');
    const grace = await attempt('grace@vigil.test', LOCKED_PASSWORD);
    expect(ghost.page.status).toBe(429);
    expect(grace.page.status).toBe(429);
    const wait = (p: Page) => errorText(p.body)!.replace(/\d+ (seconds|minutes)/, '<wait>');
    expect(wait(ghost.page)).toBe(wait(grace.page));
    const strip = (p: { page: Page; uid: string }, email: string) => normalize(p.page, email, p.uid).replace(/Try again in \d+ (seconds?|minutes?)/, 'Try again in <wait>');
    expect(strip(ghost, 'ghost@vigil.test')).toBe(strip(grace, 'grace@vigil.test'));
  });
});

test('the server logged no error for any of the requests above', async () => {
  await new Promise((r) => setTimeout(r, 200));
  const lines = vigil.output().split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as { level: number; msg: string; status?: number });
  expect(lines.filter((l) => l.level >= 50)).toEqual([]);
  expect(lines.filter((l) => l.msg === 'request' && (l.status ?? 0) >= 500)).toEqual([]);
});
