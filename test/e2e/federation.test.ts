/**
 * Federation in Chromium: the sign-in page asks for the email first; the domain routes the person
 * to their organisation's provider (a second Vigil), where they sign in; back at Vigil the account
 * is provisioned just in time and the application gets its tokens.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { hangUp, newMasterKey, tempDir, vigilCli } from '../support/vigil-process.ts';
import { sealWithCli } from '../support/federation.ts';
import { discover, pkceAuthorization, startStack, type ClientOut, type Stack } from '../support/stack.ts';
import { openBrowserSession } from '../support/chromium.ts';
import { startBrowserStack, type BrowserStack } from '../support/browser-stack.ts';

const UP_PASSWORD = 'upstream password 12345';

let upstream: Stack;
let stack: BrowserStack;
let app: ClientOut;

beforeAll(async () => {
  const dir = tempDir('vigil-federation-e2e-');
  const file = join(dir, 'federation.json');
  // The downstream's port is known once it runs: it starts with no providers, then reloads the file.
  writeFileSync(file, JSON.stringify({ providers: [] }));
  const masterKey = newMasterKey();
  upstream = await startStack({}, { issuerHost: '127.0.0.1' });
  stack = await startBrowserStack({ VIGIL_MASTER_KEY: masterKey, VIGIL_FEDERATION_FILE: file, VIGIL_ALLOWED_OUTGOING_HOSTS: new URL(upstream.vigil.issuer).host });
  const registered = await vigilCli<ClientOut>(upstream.env, ['client', 'create', '--name', 'Vigil downstream', '--redirect-uri', `${stack.vigil.issuer}/federation/corp/callback`]);
  await vigilCli(upstream.env, ['user', 'create', '--email', 'grace@corp.test', '--password', UP_PASSWORD, '--name', 'Grace']);
  const sealed = sealWithCli(masterKey, 'corp', 'client_secret', registered.client_secret!);
  writeFileSync(file, JSON.stringify({
    providers: [{
      id: 'corp', kind: 'oidc', display_name: 'Corp SSO', domains: ['corp.test'], issuer: upstream.vigil.issuer, client_id: registered.client_id, client_secret: sealed,
      provisioning: { allowed: true, default_roles: ['staff'] },
    }],
  }));
  await hangUp(stack.vigil, 'reloaded the risk policy');
  app = await vigilCli<ClientOut>(stack.env, ['client', 'create', '--name', 'Team app', '--redirect-uri', stack.redirectUri]);
}, 180_000);

afterAll(async () => {
  await stack?.stop();
  await upstream?.stop();
});

test('email first, routed to the upstream provider, provisioned just in time, back to the app with tokens', async () => {
  const s = await openBrowserSession(stack.browser, 'federation');
  try {
    const request = await pkceAuthorization(await discover(stack.vigil.issuer, app), { redirect_uri: stack.redirectUri, scope: 'openid email profile' });
    await s.page.goto(request.url);
    await s.page.locator('#continue').waitFor();
    expect(await s.page.locator('#password').count()).toBe(0);
    await s.shot('email-first');
    await s.page.fill('#email', 'grace@corp.test');
    await s.page.click('#continue');
    // At the upstream: its own sign-in page, the email given along.
    await s.page.waitForURL((u) => u.toString().startsWith(upstream.vigil.issuer));
    await s.page.locator('#password').waitFor();
    expect(await s.page.inputValue('#email')).toBe('grace@corp.test');
    await s.page.fill('#password', UP_PASSWORD);
    await s.page.click('#sign-in');
    await s.page.locator('#allow').click();
    // Back at Vigil: consent for the app, then the app.
    await s.page.waitForURL((u) => u.toString().startsWith(stack.vigil.issuer));
    await s.page.locator('#allow').click();
    await s.page.waitForURL((u) => u.toString().startsWith(stack.redirectUri));
    const tokens = await request.redeem(s.page.url());
    expect(tokens.claims()).toMatchObject({ email: 'grace@corp.test', name: 'Grace', amr: ['fed'], roles: ['staff'] });
  } finally {
    await s.close();
  }
}, 90_000);
