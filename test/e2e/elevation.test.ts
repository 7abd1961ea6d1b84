/**
 * Just-in-time elevation in Chromium: a person asks for a role on /account (over its maximum is
 * refused); the request waits in the console; the approver, signed in on
 * /account with a password only, opens the approval and is asked for the passkey step first (a
 * fresh phishing-resistant sign-in), then approves; the person's next refresh carries the role,
 * and the console lists the elevation in force with its time left.
 *
 * WebAuthn refuses IP addresses as RP IDs, so the issuer is http://localhost.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as oidc from 'openid-client';
import type { Browser } from 'playwright-core';
import { freePort, vigilCli } from '../support/vigil-process.ts';
import { startStack, type ClientOut, type Stack } from '../support/stack.ts';
import { launchChromium, openBrowserSession } from '../support/chromium.ts';
import { enterPassword, registerPasskey, rpSignIn } from '../support/admin-console.ts';

const PASSWORD = 'correct horse battery staple 9';
const TEST_TIMEOUT = 90_000;

let browser: Browser;
let stack: Stack;
let origin: string;
let web: ClientOut;
let redirectUri: string;

beforeAll(async () => {
  const file = join(mkdtempSync(join(tmpdir(), 'vigil-elevation-')), 'elevation.json');
  // Approval as shipped by default: a passkey sign-in at most ten minutes old.
  writeFileSync(file, JSON.stringify({ roles: { ops: { max_minutes: 30, approval: { approvers_role: 'approver' }, min_acr: 'urn:vigil:acr:1fa' } } }));
  redirectUri = `http://localhost:${await freePort()}/cb`;
  [browser, stack] = await Promise.all([launchChromium(), startStack({ VIGIL_ELEVATION_FILE: file }, { issuerHost: 'localhost' })]);
  origin = stack.instances[0].issuer;
  const { env } = stack;
  await Promise.all([
    vigilCli(env, ['user', 'create', '--email', 'erin@vigil.test', '--password', PASSWORD]),
    // An approver and nothing else: the console lets him in to the elevations alone.
    vigilCli(env, ['user', 'create', '--email', 'abe@vigil.test', '--password', PASSWORD, '--role', 'approver']),
  ]);
  web = await vigilCli<ClientOut>(env, ['client', 'create', '--name', 'Relying Party', '--redirect-uri', redirectUri]);
  await vigilCli(env, ['role', 'eligible', 'erin@vigil.test', 'ops']);
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await stack?.stop();
}, 60_000);

test('a person asks on /account; the approver steps up to a passkey and approves in the console; the person\'s next refresh carries the role', async () => {
  const erin = await rpSignIn(origin, web, redirectUri, 'erin@vigil.test', PASSWORD);
  expect(erin.claims.roles).toEqual([]);
  // Erin asks on /account: more than the role's maximum is refused, then 20 minutes.
  const e = await openBrowserSession(browser, 'elevation-request');
  await e.page.goto(`${origin}/account`);
  await enterPassword(e, 'erin@vigil.test', PASSWORD);
  await e.page.locator('#elevation-form').waitFor();
  expect(await e.page.textContent('#elevation-role')).toMatch(/ops \(at most 30 minutes\)/);
  const ask = async (minutes: string) => {
    await e.page.fill('#elevation-minutes', minutes);
    await e.page.fill('#elevation-reason', 'deploy the fix');
    await e.page.click('#ask-elevation');
  };
  await ask('45');
  await e.page.locator('#error').waitFor();
  expect(await e.page.textContent('#error')).toBe('ops can be held for at most 30 minutes.');
  await ask('20');
  await e.page.locator('#notice').waitFor();
  expect(await e.page.textContent('#notice')).toMatch(/once it is approved/);
  expect(await e.page.textContent('#elevation .elevation-status')).toBe('ops: waiting for approval (0 of 1)');
  await e.shot('requested');
  await e.close();
  const [asked] = await vigilCli<{ id: string; status: string }[]>(stack.env, ['elevation', 'list', '--email', 'erin@vigil.test']);
  expect(asked.status).toBe('pending');

  const s = await openBrowserSession(browser, 'elevation-approve');
  // Abe signs in on /account with his password and adds a passkey: his sign-in is a password only.
  await registerPasskey(s, origin, 'abe@vigil.test', PASSWORD);
  await s.page.goto(`${origin}/admin/elevations/${asked.id}/approve`);
  // Asked to step up: the passkey, before anything of the console shows.
  await s.page.locator('#use-passkey').waitFor();
  expect(await s.page.locator('#confirm').count()).toBe(0);
  await s.page.click('#use-passkey');
  await s.page.locator('#confirm').waitFor();
  expect(await s.page.textContent('#confirm-summary')).toMatch(/erin@vigil\.test asks for ops for 20 min 0 s: “deploy the fix”/);
  await s.shot('approve-confirm');
  await Promise.all([s.page.waitForURL(/\/admin\/elevations\?done=elevation-approved/), s.page.click('#confirm')]);

  const row = s.page.locator(`#active tr[data-elevation-id="${asked.id}"]`);
  await row.waitFor();
  expect(await row.locator('.left').textContent()).toMatch(/^(19|20) min \d+ s$/);
  expect(await s.page.locator('#pending-none').count()).toBe(1);
  expect(await s.page.locator('nav a').allTextContents()).toEqual(['Elevations']);
  expect(await s.page.textContent('#console-role')).toBe('approver');
  await s.shot('elevation-in-force');
  // Nothing else of the console.
  expect((await s.page.goto(`${origin}/admin/sessions`))!.status()).toBe(403);

  const refreshed = await oidc.refreshTokenGrant(erin.config, erin.tokens.refresh_token!);
  expect(refreshed.claims()!.roles).toEqual(['ops']);
  await s.close();
}, TEST_TIMEOUT);
