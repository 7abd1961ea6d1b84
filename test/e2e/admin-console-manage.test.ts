/**
 * Creating and editing accounts and clients in the admin console, in a real browser (issue 18):
 * an administrator signed in with a passkey creates an account and a client through the forms,
 * sees a refused form again with the reason, edits both, makes a new secret (shown once, after a
 * confirmation) and a registration token; the client made signs a person in at once. An auditor
 * sees the client read-only and is refused the forms.
 *
 * WebAuthn refuses IP addresses as RP IDs, so the issuer and every console page are http://localhost.
 */
import type { Browser } from 'playwright-core';
import { freePort, vigilCli } from '../support/vigil-process.ts';
import { ADMIN, discover, pkceAuthorization, startStack, type Stack } from '../support/stack.ts';
import { Browser as FormBrowser, signIn as formSignIn } from '../support/browserless.ts';
import { launchChromium, openBrowserSession, type BrowserSession } from '../support/chromium.ts';
import { registerPasskey, stepUpIntoConsole } from '../support/admin-console.ts';

const PASSWORD = 'correct horse battery staple 9';
const TEST_TIMEOUT = 90_000;

let browser: Browser;
let stack: Stack;
let origin: string;
let admin: BrowserSession;
let redirectUri: string;
const consoleErrors: string[] = [];
const created: { clientId?: string; secret?: string } = {};

const open = (name: string) => openBrowserSession(browser, `admin-console-manage-${name}`, { afterClose: (errors) => consoleErrors.push(...errors) });

/** A person signs in with `client` through the real pages; the ID token's subject. */
async function personSignsIn(client: { client_id: string; client_secret?: string }, email: string, password: string): Promise<string> {
  const request = await pkceAuthorization(await discover(origin, client), { redirect_uri: redirectUri, scope: 'openid' });
  const tokens = await request.redeem(await formSignIn(new FormBrowser(), request.url, email, password, redirectUri));
  return tokens.claims()!.sub;
}

beforeAll(async () => {
  redirectUri = `http://localhost:${await freePort()}/cb`;
  await Promise.all([
    launchChromium().then((x) => { browser = x; }),
    startStack({}, { issuerHost: 'localhost' }).then((x) => { stack = x; }),
  ]);
  origin = stack.vigil.issuer;
  await vigilCli(stack.env, ['user', 'create', '--email', 'audrey@vigil.test', '--password', PASSWORD, '--role', 'auditor']);
  admin = await open('admin');
  await registerPasskey(admin, origin, ADMIN.email, ADMIN.password);
  await stepUpIntoConsole(admin, origin);
}, 120_000);

afterAll(async () => {
  await admin?.close();
  await browser?.close();
  await stack?.stop();
}, 60_000);

test('the administrator creates an account with the form; a taken email shows the form again with the reason', async () => {
  const { page } = admin;
  await page.goto(`${origin}/admin/accounts`);
  await page.click('#create-account');
  await page.locator('#account-form').waitFor();
  await admin.shot('create-account-form');
  await page.fill('#email', 'grace@vigil.test');
  await page.fill('#name', 'Grace Hopper');
  await page.fill('#roles', 'engineer oncall');
  await page.fill('#password', PASSWORD);
  await page.fill('#reason', 'new hire');
  await Promise.all([page.waitForURL((u) => u.searchParams.get('done') === 'account-created'), page.click('#save-account')]);
  expect(await page.textContent('h1')).toBe('grace@vigil.test');
  expect(await page.textContent('#notice')).toMatch(/created/);
  expect(await page.textContent('#account-facts')).toMatch(/Grace Hopper[\s\S]*engineer, oncall/);
  await admin.shot('account-created');

  // The same email again: refused, said why, what was typed kept (not the password), nothing stored.
  await page.goto(`${origin}/admin/accounts/new`);
  await page.fill('#email', 'GRACE@vigil.test');
  await page.fill('#name', 'Impostor');
  await page.fill('#password', PASSWORD);
  const [answer] = await Promise.all([page.waitForResponse((r) => r.url().endsWith('/admin/accounts/new') && r.request().method() === 'POST'), page.click('#save-account')]);
  expect(answer.status()).toBe(409);
  expect(await page.textContent('#form-error')).toMatch(/already exists/);
  expect(await page.inputValue('#name')).toBe('Impostor');
  expect(await page.inputValue('#password')).toBe('');
  await admin.shot('create-account-refused');
  // A form post without the console's CSRF token, from the console's own origin: refused.
  const forged = await page.evaluate(async () => (await fetch('/admin/accounts/new', {
    method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ email: 'forged@vigil.test', roles: 'admin' }).toString(), redirect: 'manual',
  })).status);
  expect(forged).toBe(403);
  const list = await vigilCli<Array<{ email: string; name: string }>>(stack.env, ['user', 'list']);
  expect(list.filter((u) => u.email.toLowerCase() === 'grace@vigil.test')).toEqual([expect.objectContaining({ name: 'Grace Hopper' })]);
  expect(list.some((u) => u.email === 'forged@vigil.test')).toBe(false);

  // Edited: the form starts from the account.
  await page.goto(`${origin}/admin/accounts`);
  await page.click('text=grace@vigil.test');
  await page.click('#edit-account');
  expect(await page.inputValue('#roles')).toBe('engineer oncall');
  await page.fill('#name', 'Rear Admiral Hopper');
  await page.fill('#roles', 'engineer');
  await Promise.all([page.waitForURL((u) => u.searchParams.get('done') === 'account-updated'), page.click('#save-account')]);
  expect(await page.textContent('#account-facts')).toMatch(/Rear Admiral Hopper[\s\S]*engineer/);
  expect(await page.textContent('#account-facts')).not.toMatch(/oncall/);
}, TEST_TIMEOUT);

test('the administrator creates a client with the form: the secret is shown once and the client signs a person in at once', async () => {
  const { page } = admin;
  await page.goto(`${origin}/admin/clients`);
  await page.click('#create-client');
  await page.locator('#client-form').waitFor();
  // Malformed metadata: the form again with the provider's reason, nothing stored.
  await page.fill('#name', 'Payroll');
  await page.fill('#redirect_uris', 'http://evil.example/cb');
  const [refused] = await Promise.all([page.waitForResponse((r) => r.url().endsWith('/admin/clients/new') && r.request().method() === 'POST'), page.click('#save-client')]);
  expect(refused.status()).toBe(400);
  expect(await page.textContent('#form-error')).toMatch(/https/);
  expect(await page.inputValue('#name')).toBe('Payroll');
  await admin.shot('create-client-refused');

  await page.fill('#redirect_uris', redirectUri);
  await page.selectOption('#default_acr', 'urn:vigil:acr:1fa');
  await page.click('#save-client');
  await page.locator('#client-secret').waitFor();
  expect(await page.textContent('h1')).toBe('Client created');
  created.clientId = (await page.textContent('#client-id'))!;
  created.secret = (await page.textContent('#client-secret'))!;
  expect(created.secret).toMatch(/^[A-Za-z0-9_-]{43}$/);
  await admin.shot('client-created');
  const grace = (await vigilCli<Array<{ id: string; email: string }>>(stack.env, ['user', 'list'])).find((u) => u.email === 'grace@vigil.test')!;
  expect(await personSignsIn({ client_id: created.clientId, client_secret: created.secret }, 'grace@vigil.test', PASSWORD)).toBe(grace.id);

  // The client's page shows its settings, never the secret; edited, it keeps its secret.
  await page.click('#shown-once-next');
  await page.locator('#client-facts').waitFor();
  expect(await page.content()).not.toContain(created.secret);
  await page.click('#edit-client');
  expect(await page.inputValue('#redirect_uris')).toBe(redirectUri);
  expect(await page.isChecked('#grant_authorization_code')).toBe(true);
  await page.fill('#name', 'Payroll 2');
  await Promise.all([page.waitForURL((u) => u.searchParams.get('done') === 'client-updated'), page.click('#save-client')]);
  expect(await page.textContent('h1')).toBe('Payroll 2');
  expect(await personSignsIn({ client_id: created.clientId, client_secret: created.secret }, 'grace@vigil.test', PASSWORD)).toBe(grace.id);

  // A new secret, after a confirmation: shown once; the old one stops working.
  await page.click('#rotate-secret');
  await page.locator('#confirm').waitFor();
  await admin.shot('confirm-rotate');
  await page.click('#confirm');
  await page.locator('#client-secret').waitFor();
  const rotated = (await page.textContent('#client-secret'))!;
  expect(rotated).not.toBe(created.secret);
  expect(await personSignsIn({ client_id: created.clientId, client_secret: rotated }, 'grace@vigil.test', PASSWORD)).toBe(grace.id);
  await expect(personSignsIn({ client_id: created.clientId, client_secret: created.secret }, 'grace@vigil.test', PASSWORD)).rejects.toMatchObject({ error: 'invalid_client' });
}, TEST_TIMEOUT);

test('the administrator makes a registration token that registers a client', async () => {
  const { page } = admin;
  await page.goto(`${origin}/admin/clients`);
  await page.click('#create-registration-token');
  await page.selectOption('#expires_in', '3600');
  await page.click('#create-registration-token');
  await page.locator('#initial-access-token').waitFor();
  const token = (await page.textContent('#initial-access-token'))!;
  const res = await fetch(`${origin}/reg`, {
    method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ client_name: 'Partner', redirect_uris: ['https://partner.vigil.test/cb'] }),
  });
  expect(res.status).toBe(201);
}, TEST_TIMEOUT);

test('an auditor sees the client read-only and is refused the forms', async () => {
  const auditor = await open('auditor');
  await registerPasskey(auditor, origin, 'audrey@vigil.test', PASSWORD);
  await stepUpIntoConsole(auditor, origin, `/admin/clients/${created.clientId}`);
  expect(await auditor.page.textContent('#client-redirect-uris')).toContain(redirectUri);
  expect(await auditor.page.locator('#edit-client, #rotate-secret').count()).toBe(0);
  await auditor.page.goto(`${origin}/admin/clients`);
  expect(await auditor.page.locator('#create-client').count()).toBe(0);
  for (const path of ['/admin/clients/new', '/admin/accounts/new', `/admin/clients/${created.clientId}/edit`, '/admin/registration-tokens/new']) {
    const answer = await auditor.page.goto(`${origin}${path}`);
    expect([path, answer!.status()]).toEqual([path, 403]);
  }
  await auditor.close();
  expect(consoleErrors.filter((e) => /content security policy/i.test(e))).toEqual([]);
}, TEST_TIMEOUT);
