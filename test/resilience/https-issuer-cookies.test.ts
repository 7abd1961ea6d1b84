/**
 * An https issuer reached over plain http, as behind a proxy that terminates TLS and sends no
 * X-Forwarded-Proto (or a wrong one): every cookie Vigil sets is still Secure. Vigil listens
 * on plain http here; the test talks to that port and maps the issuer's URLs onto it.
 */
import { vigilCli, type VigilProcess } from '../support/vigil-process.ts';
import { ADMIN, startStack, type ClientOut, type Stack } from '../support/stack.ts';
import { Browser, hiddenField, signIn } from '../support/browserless.ts';

const ISSUER = 'https://vigil.edge.test';
const RP = 'http://127.0.0.1:9';

let stack: Stack;
let vigil: VigilProcess;
let web: ClientOut;

/** A browser whose requests to the issuer reach this instance, keeping every Set-Cookie it is sent. */
class IssuerBrowser extends Browser {
  readonly setCookies: string[] = [];

  constructor() {
    super();
    const store = this.jar.store.bind(this.jar);
    this.jar.store = (response: Response) => {
      this.setCookies.push(...response.headers.getSetCookie());
      store(response);
    };
  }

  override request(url: string, init: RequestInit = {}) {
    return super.request(url.startsWith(ISSUER) ? `${vigil.url}${url.slice(ISSUER.length)}` : url, init);
  }
}

beforeAll(async () => {
  // The test's own address is a trusted proxy: its X-Forwarded-Proto reaches Vigil, and still does not count.
  stack = await startStack({ ISSUER, TRUST_PROXY: '127.0.0.1/32' });
  ({ vigil } = stack);
  web = await vigilCli(stack.env, ['client', 'create', '--name', 'Web App', '--redirect-uri', `${RP}/cb`, '--post-logout-redirect-uri', `${RP}/bye`]);
}, 120_000);

afterAll(async () => {
  await stack?.stop();
});

test('every cookie of a sign-in, the account page and a logout is Secure', async () => {
  const browser = new IssuerBrowser();
  const query = new URLSearchParams({ client_id: web.client_id, redirect_uri: `${RP}/cb`, response_type: 'code', scope: 'openid', state: 'st', nonce: 'n' });
  const callback = await signIn(browser, `${ISSUER}/auth?${query}`, ADMIN.email, ADMIN.password, RP);
  expect(new URL(callback).searchParams.get('code')).toBeTruthy();

  const account = await browser.follow(`${ISSUER}/account`);
  expect(account.status).toBe(200);

  const end = new URLSearchParams({ client_id: web.client_id, post_logout_redirect_uri: `${RP}/bye`, state: 'bye' });
  const confirm = await browser.follow(`${ISSUER}/session/end?${end}`);
  expect(confirm.body).toContain('Sign out');
  const done = await browser.submit(confirm, '/session/end/confirm', { xsrf: hiddenField(confirm.body, 'xsrf'), logout: 'yes' }, (u) => u.startsWith(RP));
  expect(done.location).toBe(`${RP}/bye?state=bye`);

  const names = new Set(browser.setCookies.map((c) => c.slice(0, c.indexOf('='))));
  // oidc-provider's own (interaction, resume, session) and Vigil's (device, account page).
  expect([...names]).toEqual(expect.arrayContaining(['_interaction', '_interaction_resume', '_session', 'vigil_device', 'vigil.account']));
  expect(browser.setCookies.filter((c) => !/;\s*secure\b/i.test(c))).toEqual([]);
});

test('X-Forwarded-Proto: http, even from a trusted proxy, does not take Secure away', async () => {
  const browser = new IssuerBrowser();
  const query = new URLSearchParams({ client_id: web.client_id, redirect_uri: `${RP}/cb`, response_type: 'code', scope: 'openid', state: 'st', nonce: 'n' });
  await browser.request(`${ISSUER}/auth?${query}`, { headers: { 'x-forwarded-proto': 'http' } });
  expect(browser.setCookies.length).toBeGreaterThan(0);
  expect(browser.setCookies.filter((c) => !/;\s*secure\b/i.test(c))).toEqual([]);
});
