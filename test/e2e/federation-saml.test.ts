/**
 * SAML sign-in in Chromium: the person picks the SAML provider's button on Vigil's sign-in page,
 * the test IdP (its own origin, 127.0.0.1) answers with an auto-submitting form that posts the
 * signed Response cross-site to Vigil's ACS, and the browser ends at the application with a code
 * that openid-client redeems for tokens of the provisioned account.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { discover, pkceAuthorization, type ClientOut } from '../support/stack.ts';
import { startBrowserStack, type BrowserStack } from '../support/browser-stack.ts';
import { openBrowserSession, untilRelyingParty, type BrowserSession } from '../support/chromium.ts';
import { tempDir, vigilCli } from '../support/vigil-process.ts';
import { SamlTestIdp } from '../support/saml-idp.ts';

let stack: BrowserStack;
let idp: SamlTestIdp;
let web: ClientOut;
const sessions: BrowserSession[] = [];

beforeAll(async () => {
  const dir = tempDir('vigil-saml-e2e-');
  idp = await SamlTestIdp.start({ user: { nameId: 'corp-7001', attributes: { email: 'frank@corp.test', displayName: 'Frank Corp' } } });
  const federationFile = join(dir, 'federation.json');
  writeFileSync(federationFile, JSON.stringify({
    providers: [{
      id: 'corp', kind: 'saml', display_name: 'Corp SAML', idp_metadata_file: idp.writeMetadata(dir),
      trust_email_verified: true, provisioning: { allowed: true, default_roles: [] },
    }],
  }));
  stack = await startBrowserStack({ VIGIL_FEDERATION_FILE: federationFile });
  web = await vigilCli<ClientOut>(stack.env, ['client', 'create', '--name', 'Web App', '--redirect-uri', stack.redirectUri]);
}, 120_000);

afterAll(async () => {
  for (const s of sessions) await s.close();
  await stack?.stop();
  await idp?.close();
}, 60_000);

test('the provider\'s button → the IdP posts the signed response to the ACS → the app gets tokens', async () => {
  const b = await openBrowserSession(stack.browser, 'federation-saml');
  sessions.push(b);
  const app = await pkceAuthorization(await discover(stack.vigil.issuer, web), { redirect_uri: stack.redirectUri, scope: 'openid email profile', prompt: 'consent' });
  await b.page.goto(app.url);
  await b.page.locator('#provider-corp').waitFor();
  await b.shot('sign-in-page');
  await b.page.click('#provider-corp');
  const landed = await untilRelyingParty(b.page, stack.redirectUri, () => b.shot('consent'));
  expect(landed).toMatch(/\?code=/);
  const claims = (await app.redeem(landed)).claims()!;
  expect(claims.email).toBe('frank@corp.test');
  expect(claims.amr).toEqual(['fed']);
  expect(claims.acr).toBe('urn:vigil:acr:1fa');
  // No page on the way logged an error (a CSP violation, a failed request).
  expect(b.errors).toEqual([]);
}, 90_000);
