/**
 * SAML through Vigil's routes: a running Vigil with a SAML provider in its federation file and the
 * test IdP on loopback. The sign-in begins at /interaction/:uid/federation/<id>, the IdP answers
 * the AuthnRequest with a signed Response the browser posts to the ACS, and the app gets tokens
 * (openid-client) for the account provisioned from the assertion; the acr of a trusted provider
 * counts. A tampered response and a replayed one are refused with a page, nothing linked. Vigil's
 * SP metadata is served for the IdP's administrator.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { Browser, formAction, hiddenField, type Page } from '../support/browserless.ts';
import { discover, pkceAuthorization, startStack, type ClientOut, type Stack } from '../support/stack.ts';
import { tempDir, vigilCli } from '../support/vigil-process.ts';
import { SamlTestIdp } from '../support/saml-idp.ts';

const APP_REDIRECT = 'http://127.0.0.1:9/cb';
const MFA_CLASS = 'urn:oasis:names:tc:SAML:2.0:ac:classes:MultiFactor';
const isApp = (u: string) => u.startsWith(APP_REDIRECT);

let stack: Stack;
let idp: SamlTestIdp;
let app: ClientOut;
let db: pg.Client;
let issuer: string;

beforeAll(async () => {
  const dir = tempDir('vigil-saml-');
  idp = await SamlTestIdp.start({
    user: {
      nameId: 'corp-0001',
      attributes: { email: 'dana@corp.test', displayName: 'Dana Corp', groups: ['engineers'] },
      authnContextClassRef: MFA_CLASS,
    },
  });
  const federationFile = join(dir, 'federation.json');
  writeFileSync(federationFile, JSON.stringify({
    providers: [{
      id: 'corp', kind: 'saml', display_name: 'Corp SAML', domains: ['corp.test'],
      idp_metadata_file: idp.writeMetadata(dir), trust_email_verified: true,
      provisioning: { allowed: true, default_roles: [] }, group_roles: { engineers: ['dev'] },
      trusted_acr: { [MFA_CLASS]: 'urn:vigil:acr:2fa' },
    }],
  }));
  stack = await startStack({ VIGIL_FEDERATION_FILE: federationFile });
  issuer = stack.vigil.issuer;
  app = await vigilCli<ClientOut>(stack.env, ['client', 'create', '--name', 'App', '--redirect-uri', APP_REDIRECT]);
  db = new pg.Client({ connectionString: stack.db.url });
  await db.connect();
}, 120_000);

afterAll(async () => {
  await idp?.close();
  await db?.end();
  await stack?.stop();
});

async function authorize(extra: Record<string, string> = {}) {
  return pkceAuthorization(await discover(issuer, app), { redirect_uri: APP_REDIRECT, scope: 'openid email profile', prompt: 'consent', ...extra });
}

/** From the app's authorization request to the redirect to the IdP, through the begin route. */
async function toIdp(browser: Browser, url: string): Promise<{ uid: string; redirectToIdp: string }> {
  const login = await browser.follow(url, isApp);
  const uid = /\/interaction\/([^/?#]+)/.exec(login.url)![1];
  const begun = await browser.request(`${issuer}/interaction/${uid}/federation/corp`);
  expect(begun.status).toBe(302);
  expect(begun.location!.startsWith(`${idp.ssoUrl}?SAMLRequest=`)).toBe(true);
  return { uid, redirectToIdp: begun.location! };
}

async function consentToApp(browser: Browser, page: Page): Promise<Page> {
  if (page.location && isApp(page.location)) return page;
  expect(page.body).toContain('/confirm"');
  return browser.submit(page, formAction(page.body, '/confirm'), { csrf: hiddenField(page.body, 'csrf') }, isApp);
}

const linksOf = async (subject: string) => (await db.query('SELECT provider, provisioned FROM federated_identities WHERE subject = $1', [subject])).rows;

test('begin → the IdP → the signed response posted to the ACS → signed in: the app gets tokens for the provisioned account', async () => {
  const request = await authorize({ acr_values: 'urn:vigil:acr:2fa' });
  const browser = new Browser();
  const { redirectToIdp } = await toIdp(browser, request.url);
  // The IdP's page: an auto-submitting form to Vigil's ACS, as a browser would post it.
  const idpPage = await browser.request(redirectToIdp);
  const acs = formAction(idpPage.body, '/federation/corp/acs');
  expect(acs).toBe(`${issuer}/federation/corp/acs`);
  const fields = { SAMLResponse: hiddenField(idpPage.body, 'SAMLResponse'), RelayState: hiddenField(idpPage.body, 'RelayState') };
  const end = await consentToApp(browser, await browser.submit(idpPage, acs, fields, isApp));
  expect(end.location).toMatch(/\?code=/);
  const claims = (await request.redeem(end.location!)).claims()!;
  expect(claims.email).toBe('dana@corp.test');
  expect(claims.amr).toEqual(['fed']);
  // The IdP's MultiFactor class, trusted for this provider, is Vigil's 2fa: no factor of Vigil's asked.
  expect(claims.acr).toBe('urn:vigil:acr:2fa');
  expect(await linksOf('corp-0001')).toEqual([{ provider: 'corp', provisioned: true }]);
  const remembered = await db.query("SELECT count(*)::int AS n FROM saml_assertion_ids WHERE provider = 'corp'");
  expect(remembered.rows[0].n).toBe(1);

  // The same response posted again is refused with a page, and changes nothing.
  const again = await new Browser().request(acs, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams(fields).toString() });
  expect(again.status).toBe(400);
  expect(again.body).not.toMatch(/\?code=/);
}, 60_000);

test('a tampered response at the ACS: a readable refusal, nothing linked, nothing remembered', async () => {
  const browser = new Browser();
  const { redirectToIdp } = await toIdp(browser, (await authorize()).url);
  const form = idp.respond(redirectToIdp, { user: { nameId: 'corp-0002', attributes: { email: 'erin@corp.test' } }, tamper: true });
  const page = await browser.request(form.acsUrl, {
    method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ SAMLResponse: form.SAMLResponse, RelayState: form.RelayState }).toString(),
  });
  expect(page.status).toBe(400);
  expect(page.body).toContain('did not succeed');
  expect(await linksOf('corp-0002')).toEqual([]);
  const accounts = await db.query("SELECT count(*)::int AS n FROM accounts WHERE email IN ('erin@corp.test', 'mallory@corp.test')");
  expect(accounts.rows[0].n).toBe(0);
  const remembered = await db.query("SELECT count(*)::int AS n FROM saml_assertion_ids WHERE provider = 'corp'");
  expect(remembered.rows[0].n).toBe(1); // the first test's assertion only
  const audit = await db.query("SELECT details FROM audit_log WHERE action = 'federation.sign_in' AND outcome = 'failure' ORDER BY seq DESC LIMIT 1");
  expect(audit.rows[0].details).toMatchObject({ provider: 'corp', code: 'invalid_signature' });
}, 60_000);

test('the SP metadata for the IdP administrator: entity id and ACS URL', async () => {
  const response = await fetch(`${issuer}/federation/corp/metadata`);
  expect(response.status).toBe(200);
  expect(response.headers.get('content-type')).toContain('application/samlmetadata+xml');
  const xml = await response.text();
  expect(xml).toContain(`entityID="${issuer}/federation/corp/metadata"`);
  expect(xml).toContain(`Location="${issuer}/federation/corp/acs"`);
  expect((await fetch(`${issuer}/federation/nope/metadata`)).status).toBe(404);
});

test('vigil federation test: the IdP metadata found, for the operator', async () => {
  const report = await vigilCli<{ provider: string; ok: boolean; found: string }>(stack.env, ['federation', 'test', 'corp']);
  expect(report).toMatchObject({ provider: 'corp', ok: true });
  expect(report.found).toContain(`IdP entity id ${idp.entityId}`);
  expect(report.found).toContain(`SSO URL (HTTP-Redirect) ${idp.ssoUrl}`);
  expect(report.found).toMatch(/1 signing certificate\(s\), valid until \d{4}-\d{2}-\d{2}/);
}, 30_000);
