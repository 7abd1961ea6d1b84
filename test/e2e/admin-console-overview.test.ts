/**
 * The overview's activity charts and cards and a session's risk timeline (issue 18), in Chromium
 * with a passkey administrator: the cards show what happened (sign-ins, a denial, no challenge, one
 * revocation that ended something and one that ended nothing), zeros included; their links list
 * exactly those entries; each chart is an SVG with a title, a description, a tooltip per bar and
 * its numbers as a table; the session page draws its assessments against the policy's thresholds;
 * dark mode recolours the charts; no page reported a CSP violation. One Vigil instance on
 * http://localhost (WebAuthn refuses IP addresses).
 */
import * as oidc from 'openid-client';
import type { Page } from 'playwright-core';
import { vigilCli } from '../support/vigil-process.ts';
import { discover, pkceAuthorization, type ClientOut, type Stack } from '../support/stack.ts';
import { Browser as FormBrowser, formAction, hiddenField } from '../support/browserless.ts';
import type { BrowserSession } from '../support/chromium.ts';
import { rpSignIn, startConsoleStack, type ConsoleStack } from '../support/admin-console.ts';
import { queryDatabase } from '../support/services.ts';

const PASSWORD = 'correct horse battery staple 9';
const TEST_TIMEOUT = 90_000;
const KINDS = ['sign_in', 'challenge', 'denial', 'revocation'];

let console_: ConsoleStack;
let stack: Stack;
let origin: string;
let web: ClientOut;
let redirectUri: string;
let admin: BrowserSession;
let dana: Awaited<ReturnType<typeof rpSignIn>>;
const ids: Record<string, string> = {};
let danaUid = '';

const number = async (page: Page, selector: string) => Number((await page.textContent(selector))!.trim().split(/\s/)[0]);
/** The counts an SVG's bars carry. */
const barCounts = (page: Page, chart: string) => page.locator(`#${chart} rect.chart-bar`).evaluateAll((rects) => rects.map((r) => Number(r.getAttribute('data-count'))));

beforeAll(async () => {
  console_ = await startConsoleStack('admin-console-overview');
  ({ stack, origin, web, redirectUri, admin } = console_);
  const people = await Promise.all(['dana', 'carol', 'erin'].map((name) =>
    vigilCli<{ id: string }>(stack.env, ['user', 'create', '--email', `${name}@vigil.test`, '--password', PASSWORD, '--name', name])));
  [ids.dana, ids.carol, ids.erin] = people.map((p) => p.id);
  // Dana signs in to the relying party and refreshes once: two assessments of her session.
  dana = await rpSignIn(origin, web, redirectUri, 'dana@vigil.test', PASSWORD);
  await oidc.refreshTokenGrant(dana.config, dana.tokens.refresh_token!);
  // Erin's account is disabled: her sign-in is refused (a denial).
  await vigilCli(stack.env, ['user', 'disable', '--email', 'erin@vigil.test']);
  const request = await pkceAuthorization(await discover(origin, web), { redirect_uri: redirectUri, scope: 'openid' });
  const form = new FormBrowser();
  const login = await form.follow(request.url, (u) => u.startsWith(redirectUri));
  const refused = await form.submit(login, formAction(login.body, '/login'), { csrf: hiddenField(login.body, 'csrf'), email: 'erin@vigil.test', password: PASSWORD });
  expect(refused.status).toBe(403);
}, 120_000);

afterAll(async () => {
  await console_?.stop();
}, 60_000);

test('the session page draws the risk history as a timeline: a point per assessment with its decision and reasons, the policy\'s thresholds marked', async () => {
  const page = admin.page;
  await page.goto(`${origin}/admin/sessions`);
  const row = page.locator('#sessions tbody tr', { hasText: 'dana@vigil.test' });
  danaUid = (await row.getAttribute('data-session-uid'))!;
  // The refresh's assessment is written behind, in a batch: the page shows it within moments.
  for (let waited = 0; ; waited += 200) {
    await page.goto(`${origin}/admin/sessions/${danaUid}`);
    if (await page.locator('#risk-history tbody tr').count() === 2 || waited > 10_000) break;
    await new Promise((r) => setTimeout(r, 200));
  }
  const svg = page.locator('#risk-timeline svg');
  expect(await svg.getAttribute('role')).toBe('img');
  expect(await page.textContent('#risk-timeline-title')).toBe('Risk score over time');
  expect(await page.textContent('#risk-timeline-desc')).toMatch(/^2 assessment\(s\) from \d{4}-\d\d-\d\d \d\d:\d\d to .* UTC; the highest score \d+ \(low, allow\)/);
  const points = await page.locator('#risk-timeline circle.chart-point title').allTextContents();
  expect(points).toHaveLength(await page.locator('#risk-history tbody tr').count());
  expect(points).toHaveLength(2);
  // Oldest first: the sign-in, then the refresh; the client by name, the decision, the reasons or their absence.
  expect(points[0]).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d UTC, login for Relying Party: score \d+ \(low\), allow\. /);
  expect(points[1]).toMatch(/, refresh for Relying Party: score \d+ \(low\), allow\. /);
  for (const p of points) expect(p).not.toContain(web.client_id);
  // The default policy's thresholds for this client: login 30/60/90 and refresh 30/60/85.
  const thresholds = await page.locator('#risk-timeline g.threshold').evaluateAll((gs) => gs.map((g) => g.getAttribute('data-score')));
  expect(thresholds).toEqual(['30', '60', '85', '90']);
  expect(await page.textContent('#risk-timeline g.threshold[data-score="30"] title')).toBe('Threshold ≥ 30: login mfa (2fa), refresh step-up (2fa)');
  expect(await page.textContent('#risk-timeline-thresholds')).toContain('≥ 90: login deny');
  await admin.shot('session-timeline');
}, TEST_TIMEOUT);

test('the overview: a card per kind with the day\'s and week\'s counts, zeros included, each count the sum of its chart\'s bars', async () => {
  const page = admin.page;
  // Carol holds nothing: revoking "all" her sessions ends nothing and is not counted. Dana's session ends: counted.
  await page.goto(`${origin}/admin/accounts/${ids.carol}/revoke-sessions`);
  await Promise.all([page.waitForURL((u) => u.searchParams.get('done') === 'account-sessions-revoked'), page.click('#confirm')]);
  await page.goto(`${origin}/admin/sessions/${danaUid}/revoke`);
  await Promise.all([page.waitForURL((u) => u.searchParams.get('done') === 'session-revoked'), page.click('#confirm')]);

  await page.goto(`${origin}/admin`);
  await admin.shot('overview');
  const [signIns] = await queryDatabase<{ n: string }>(stack.db.url, "SELECT count(*) AS n FROM audit_log WHERE action = 'login' AND outcome = 'success'");
  // The administrator's password sign-in on /account, the passkey step-up into the console, Dana's sign-in.
  expect(Number(signIns.n)).toBe(3);
  const expected: Record<string, number> = { sign_in: 3, challenge: 0, denial: 1, revocation: 1 };
  for (const kind of KINDS) {
    for (const window of ['day', 'week']) {
      const count = await number(page, `#count-${kind}-${window}`);
      expect([kind, window, count]).toEqual([kind, window, expected[kind]]);
      const bars = await barCounts(page, `chart-${kind}-${window}`);
      expect(bars).toHaveLength(window === 'day' ? 24 : 7);
      expect(bars.reduce((a, b) => a + b, 0)).toBe(count);
      // The numbers as text: the table under "Numbers" holds the same counts.
      const cells = await page.locator(`#chart-${kind}-${window}-numbers tbody td:nth-child(2)`).allTextContents();
      expect(cells.map(Number)).toEqual(bars);
    }
  }
  // An accessible image: its title and a description that says the total (or that there was none).
  expect(await page.getAttribute('#chart-sign_in-day svg', 'role')).toBe('img');
  expect(await page.textContent('#chart-sign_in-day-title')).toBe('Sign-ins per hour, last 24 hours');
  expect(await page.textContent('#chart-sign_in-day-desc')).toMatch(/^3 sign-ins in all; the most, \d, in \d{4}-\d\d-\d\d \d\d:00–\d\d:00 UTC\.$/);
  expect(await page.textContent('#chart-challenge-week-desc')).toBe('No challenges in any day.');
  // Each bar's tooltip: its hour and count.
  const tips = await page.locator('#chart-denial-day rect title').allTextContents();
  expect(tips.filter((t) => t.endsWith(': 1 denials'))).toHaveLength(1);
  expect(tips.filter((t) => t.endsWith(': 0 denials'))).toHaveLength(23);
  // Sessions at risk: the administrator's own session is the one left, at low risk.
  expect(await number(page, '#count-sessions-high')).toBe(0);
  expect(await number(page, '#count-sessions-low')).toBeGreaterThanOrEqual(1);
}, TEST_TIMEOUT);

test('each card\'s link lists exactly what it counted, zeros too; the sessions card leads to the sessions at that level', async () => {
  const page = admin.page;
  const follow = async (selector: string) => {
    await page.goto(`${origin}/admin`);
    const [response] = await Promise.all([page.waitForNavigation(), page.click(selector)]);
    expect(response!.status()).toBe(200);
  };
  await follow('#count-revocation-day');
  expect(new URL(page.url()).searchParams.get('kind')).toBe('revocation');
  expect(await page.locator('#a-kind').inputValue()).toBe('revocation');
  expect(await page.locator('#audit tbody tr').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-action')))).toEqual(['revocation.session']);
  expect(await page.textContent('#kind-shown')).toContain('revocations that ended a session, a grant or tokens');
  await admin.shot('revocations-listed');

  await follow('#count-sign_in-week');
  expect(await page.locator('#audit tbody tr').count()).toBe(3);
  expect(await page.locator('#audit tbody tr td.outcome-success').count()).toBe(3);

  await follow('#count-denial-day');
  const denial = page.locator('#audit tbody tr');
  expect(await denial.count()).toBe(1);
  expect(await denial.textContent()).toContain('erin@vigil.test');

  await follow('#count-challenge-day');
  expect(await page.locator('#audit tbody tr').count()).toBe(0);
  expect(await page.textContent('main')).toContain('No entries match.');

  // A kind the console does not know is a readable 400 page, not an empty list.
  const bad = await page.goto(`${origin}/admin/audit?kind=logins`);
  expect(bad!.status()).toBe(400);
  expect(await page.textContent('main')).toMatch(/Audit filter: .*kind/);

  await follow('#count-sessions-high');
  expect(new URL(page.url()).pathname).toBe('/admin/sessions');
  expect(new URL(page.url()).searchParams.get('level')).toBe('high');
  expect(await page.locator('#sessions tbody tr').count()).toBe(0);
}, TEST_TIMEOUT);

test('dark mode recolours the charts from the stylesheet (no inline style), and no page reported a CSP violation', async () => {
  const page = admin.page;
  await page.goto(`${origin}/admin`);
  const fill = () => page.locator('#chart-sign_in-week rect.chart-bar').first().evaluate((r) => getComputedStyle(r).fill);
  const light = await fill();
  await page.emulateMedia({ colorScheme: 'dark' });
  await page.goto(`${origin}/admin`);
  const dark = await fill();
  expect(light).toBe('rgb(31, 95, 191)');
  expect(dark).toBe('rgb(122, 167, 240)');
  expect(await page.locator('[style]').count()).toBe(0);
  await admin.shot('overview-dark');
  await page.goto(`${origin}/admin/sessions`);
  await page.emulateMedia({ colorScheme: 'light' });
  const csp = admin.errors.filter((e) => /content security policy|content-security-policy/i.test(e));
  expect(csp).toEqual([]);
}, TEST_TIMEOUT);
