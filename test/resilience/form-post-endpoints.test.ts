/**
 * A relying party on another site sends the browser to /auth and /session/end with a form POST
 * (OIDC Core §3.1.2.1, RP-Initiated Logout §2), in a real browser: Chromium, with its SameSite
 * rules. The relying party is http://127.0.0.1:<port>, Vigil http://localhost:<port>: two sites.
 * The sign-in completes; a second POST with prompt=none is answered from the session (the
 * browser's session cookie reached Vigil); the logout confirmation ends that session.
 */
import { createServer, type Server } from 'node:http';
import type { Browser, Page } from 'playwright-core';
import { freePort, vigilCli, type VigilProcess } from '../support/vigil-process.ts';
import { ADMIN, startStack, type ClientOut, type Stack } from '../support/stack.ts';
import { launchChromium, openBrowserSession, type BrowserSession } from '../support/chromium.ts';

let browser: Browser;
let stack: Stack;
let vigil: VigilProcess;
let rp: Server;
let rpPort: number;
let web: ClientOut;

const rpOrigin = () => `http://127.0.0.1:${rpPort}`;
const atRp = (path: string) => (url: URL) => url.origin === rpOrigin() && url.pathname === path;

const escape = (s: string) => s.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;');

/** The relying party's page: a form that POSTs `fields` to `action`, sent with the button #go. */
function formPage(action: string, fields: Record<string, string>): string {
  const inputs = Object.entries(fields).map(([k, v]) => `<input type="hidden" name="${escape(k)}" value="${escape(v)}">`).join('');
  return `<!doctype html><title>RP</title><form method="post" action="${escape(action)}">${inputs}<button id="go" type="submit">Continue</button></form>`;
}

/** The relying party shows a form posting `fields` to Vigil's `path`, and the person presses the button. */
async function postFromRp(page: Page, path: string, fields: Record<string, string>) {
  const id = Math.random().toString(36).slice(2);
  forms.set(id, formPage(`${vigil.issuer}${path}`, fields));
  await page.goto(`${rpOrigin()}/form/${id}`);
  const sent = page.waitForRequest((r) => r.url() === `${vigil.issuer}${path}` && r.method() === 'POST');
  await page.click('#go');
  const request = await sent;
  // The premise: the browser sends this form across sites.
  expect((await request.allHeaders())['sec-fetch-site']).toBe('cross-site');
}

const forms = new Map<string, string>();

const authorization = (extra: Record<string, string> = {}) => ({
  client_id: web.client_id, redirect_uri: `${rpOrigin()}/cb`, response_type: 'code', scope: 'openid', state: `st-${Math.random()}`, nonce: 'n', ...extra,
});

beforeAll(async () => {
  rpPort = await freePort();
  rp = createServer((req, res) => {
    const form = /^\/form\/(\w+)$/.exec(req.url ?? '')?.[1];
    if (form && forms.has(form)) return res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(forms.get(form));
    res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8' }).end('relying party: ok');
  });
  await new Promise<void>((resolve) => rp.listen(rpPort, '127.0.0.1', resolve));
  await Promise.all([
    launchChromium().then((b) => { browser = b; }),
    startStack({}, { issuerHost: 'localhost' }).then((s) => { stack = s; }),
  ]);
  ({ vigil } = stack);
  web = await vigilCli(stack.env, ['client', 'create', '--name', 'Web App', '--redirect-uri', `${rpOrigin()}/cb`, '--post-logout-redirect-uri', `${rpOrigin()}/bye`]);
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await stack?.stop();
  await new Promise((resolve) => rp?.close(resolve));
});

test('a cross-site form POST signs in, is answered from the session, and logs out', async () => {
  const s: BrowserSession = await openBrowserSession(browser, 'form-post');
  try {
    // Sign-in started by a form POST to /auth.
    const first = authorization();
    await postFromRp(s.page, '/auth', first);
    await s.page.locator('#email').waitFor();
    await s.page.fill('#email', ADMIN.email);
    await s.page.fill('#password', ADMIN.password);
    await s.page.click('#sign-in');
    const consent = s.page.locator('#allow');
    await Promise.race([s.page.waitForURL(atRp('/cb')), consent.waitFor()]);
    if (!atRp('/cb')(new URL(s.page.url()))) {
      await consent.click();
      await s.page.waitForURL(atRp('/cb'));
    }
    const callback = new URL(s.page.url());
    expect(callback.searchParams.get('error')).toBeNull();
    expect(callback.searchParams.get('state')).toBe(first.state);
    const tokens = await fetch(`${vigil.url}/token`, {
      method: 'POST',
      headers: { authorization: `Basic ${Buffer.from(`${web.client_id}:${web.client_secret}`).toString('base64')}`, 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'authorization_code', code: callback.searchParams.get('code')!, redirect_uri: `${rpOrigin()}/cb` }),
    });
    expect(tokens.status).toBe(200);
    expect(await tokens.json()).toMatchObject({ id_token: expect.any(String) });

    // The session is seen through a cross-site POST: prompt=none gets a code, not login_required.
    const silent = authorization({ prompt: 'none' });
    await postFromRp(s.page, '/auth', silent);
    await s.page.waitForURL(atRp('/cb'));
    const silentCallback = new URL(s.page.url());
    expect(silentCallback.searchParams.get('error')).toBeNull();
    expect(silentCallback.searchParams.get('code')).toBeTruthy();
    expect(silentCallback.searchParams.get('state')).toBe(silent.state);

    // RP-initiated logout by a form POST: the confirmation page ends this session.
    await postFromRp(s.page, '/session/end', { client_id: web.client_id, post_logout_redirect_uri: `${rpOrigin()}/bye`, state: 'bye-state' });
    await s.page.locator('#logout-yes').click();
    await s.page.waitForURL(atRp('/bye'));
    expect(new URL(s.page.url()).searchParams.get('state')).toBe('bye-state');

    const after = authorization({ prompt: 'none' });
    await postFromRp(s.page, '/auth', after);
    await s.page.waitForURL(atRp('/cb'));
    expect(new URL(s.page.url()).searchParams.get('error')).toBe('login_required');
  } catch (err) {
    await s.shot('failed').catch(() => {});
    throw err;
  } finally {
    await s.close();
  }
});

test('a form POST past the size a redirect can carry answers 413', async () => {
  const response = await fetch(`${vigil.url}/auth`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ ...authorization(), request: 'x'.repeat(9 * 1024) }),
  });
  expect(response.status).toBe(413);
});
