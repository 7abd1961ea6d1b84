/**
 * A directory (ldap provider) behind Vigil's real sign-in pages: the email routes a person to the
 * password step, the directory's bind decides, the first sign-in provisions the account; a person
 * disabled in the directory cannot refresh; a directory that is down says so on the page while
 * local accounts still sign in.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as oidc from 'openid-client';
import pg from 'pg';
import { KeyRing } from '../../src/crypto/index.ts';
import { sealFederationSecret } from '../../src/federation/index.ts';
import { startStack, discover, pkceAuthorization, type ClientOut, type Stack } from '../support/stack.ts';
import { freePort, runScript, tempDir, vigilCli } from '../support/vigil-process.ts';
import { Browser, formAction, hiddenField, type Page } from '../support/browserless.ts';
import { startSlapd, BASE_DN, SERVICE_DN, SERVICE_PASSWORD, type Slapd } from '../support/slapd.ts';

const LOCAL = { email: 'local@vigil.test', password: 'a local password 123' };

let slapd: Slapd;
let stack: Stack;
let app: ClientOut;
let redirectUri: string;
let db: pg.Client;

beforeAll(async () => {
  slapd = await startSlapd();
  const env = { VIGIL_MASTER_KEY: Buffer.alloc(32, 7).toString('base64') };
  const file = join(tempDir('vigil-ldap-'), 'federation.json');
  writeFileSync(file, JSON.stringify({
    providers: [{
      id: 'corp', kind: 'ldap', display_name: 'Corp directory', domains: ['corp.example'],
      provisioning: { allowed: true, default_roles: [] }, trust_email_verified: true,
      url: slapd.ldapsUrl, ca_file: slapd.caFile, bind_dn: SERVICE_DN, base_dn: BASE_DN,
      bind_password: sealFederationSecret(new KeyRing(Buffer.from(env.VIGIL_MASTER_KEY, 'base64')), 'corp', 'bind_password', SERVICE_PASSWORD),
      disabled_filter: '(employeeType=disabled)', timeout_seconds: 2, recheck_seconds: 0,
    }],
  }));
  stack = await startStack({ ...env, VIGIL_FEDERATION_FILE: file });
  redirectUri = `http://127.0.0.1:${await freePort()}/cb`;
  db = new pg.Client({ connectionString: stack.db.url });
  [app] = await Promise.all([
    vigilCli<ClientOut>(stack.env, ['client', 'create', '--name', 'Notes app', '--public', '--redirect-uri', redirectUri]),
    vigilCli(stack.env, ['user', 'create', '--email', LOCAL.email, '--password', LOCAL.password]),
    db.connect(),
  ]);
}, 120_000);

afterAll(async () => {
  // The directory goes whatever else fails: it is a process of this test's own.
  await Promise.allSettled([slapd?.destroy(), db?.end()]);
  await stack?.stop();
});

/** Email first, then the password, then consent: the redirect to the app, or the page where it stopped. */
async function signIn(email: string, password: string): Promise<{ callback?: string; page: Page; request: Awaited<ReturnType<typeof pkceAuthorization>> }> {
  const request = await pkceAuthorization(await discover(stack.vigil.issuer, app), { redirect_uri: redirectUri, scope: 'openid email offline_access', prompt: 'consent' });
  const browser = new Browser();
  const isApp = (u: string) => u.startsWith(redirectUri);
  let page = await browser.follow(request.url, isApp);
  page = await browser.submit(page, formAction(page.body, '/identify'), { csrf: hiddenField(page.body, 'csrf'), email }, isApp);
  page = await browser.submit(page, formAction(page.body, '/login'), { csrf: hiddenField(page.body, 'csrf'), email, password }, isApp);
  if (page.body.includes('/confirm"')) page = await browser.submit(page, formAction(page.body, '/confirm'), { csrf: hiddenField(page.body, 'csrf') }, isApp);
  return { ...(page.location && isApp(page.location) ? { callback: page.location } : {}), page, request };
}

async function tokensFor(email: string, password: string) {
  const { callback, page, request } = await signIn(email, password);
  if (!callback) throw new Error(`no sign-in (${page.status}):\n${page.body.slice(0, 1500)}`);
  return request.redeem(callback);
}

const config = () => discover(stack.vigil.issuer, app);

const alert = (page: Page) => /role="alert" id="error">([^<]*)</.exec(page.body)?.[1];

let adaTokens: oidc.TokenEndpointResponse;

test('email-first: a directory person signs in with the directory password; the first time makes the account (JIT)', async () => {
  const tokens = await tokensFor('ada@corp.example', 'analytical-engine');
  adaTokens = tokens;
  expect(tokens.claims()).toMatchObject({ email: 'ada@corp.example' });
  const { rows } = await db.query('SELECT a.email, f.provider, f.provisioned FROM federated_identities f JOIN accounts a ON a.id = f.account_id');
  expect(rows).toEqual([{ email: 'ada@corp.example', provider: 'corp', provisioned: true }]);
  // A wrong directory password: the same words as a wrong local one.
  const wrong = await signIn('ada@corp.example', 'difference-engine');
  expect(wrong.callback).toBeUndefined();
  expect(wrong.page.status).toBe(401);
  expect(alert(wrong.page)).toBe('The email or password is not correct.');
});

test('the password step of a directory address sends the person to the directory for a forgotten password, not to Vigil\'s reset', async () => {
  const request = await pkceAuthorization(await config(), { redirect_uri: redirectUri, scope: 'openid' });
  const browser = new Browser();
  const start = await browser.follow(request.url, () => false);
  const step = (email: string) => browser.submit(start, formAction(start.body, '/identify'), { csrf: hiddenField(start.body, 'csrf'), email }, () => false);
  const directory = await step('ada@corp.example');
  expect(directory.body).toContain('name="password"');
  expect(directory.body).not.toContain('id="forgot-password"');
  expect(/id="directory-password">([^<]*)</.exec(directory.body)?.[1]).toBe('Use your Corp directory password. If you forgot it, ask the people who run Corp directory.');
  const local = await step(LOCAL.email);
  expect(local.body).toContain('id="forgot-password"');
  expect(local.body).not.toContain('id="directory-password"');

  // Typed on the "Forgot password?" page itself: told the same, no reset link made.
  const forgot = await browser.follow(new URL(`/interaction/${/\/interaction\/([^/"]+)\//.exec(start.body)![1]}/forgot`, start.url).toString(), () => false);
  const ask = (email: string) => browser.submit(forgot, formAction(forgot.body, '/forgot'), { csrf: hiddenField(forgot.body, 'csrf'), email }, () => false);
  const refused = await ask('ada@corp.example');
  expect(refused.status).toBe(400);
  expect(alert(refused)).toBe('Use your Corp directory password. If you forgot it, ask the people who run Corp directory.');
  expect((await ask(LOCAL.email)).status).toBe(200);
  const links = async () => (await db.query("SELECT a.email FROM email_links l JOIN accounts a ON a.id = l.account_id WHERE l.kind = 'password_reset'")).rows.map((r) => r.email as string);
  for (let i = 0; i < 100 && !(await links()).includes(LOCAL.email); i++) await new Promise((r) => setTimeout(r, 50));
  expect(await links()).toEqual([LOCAL.email]);
});

test('a person disabled in the directory: the next refresh is refused and the session is over', async () => {
  const tokens = await tokensFor('grace@corp.example', 'cobol-compiler');
  const refreshed = await oidc.refreshTokenGrant(await config(), tokens.refresh_token!);
  await slapd.disable('grace');
  const refused = await oidc.refreshTokenGrant(await config(), refreshed.refresh_token!).then(() => undefined, (e: unknown) => e as { error: string; error_description: string });
  expect(refused).toMatchObject({ error: 'invalid_grant', error_description: expect.stringMatching(/directory account is disabled or no longer exists/) });
  const { rows } = await db.query("SELECT outcome, details FROM audit_log WHERE action = 'federation.refresh'");
  expect(rows).toEqual([{ outcome: 'denied', details: expect.objectContaining({ provider: 'corp', reason: 'inactive' }) }]);
  // The session is ended, not only this refresh refused.
  const ended = await db.query("SELECT subject FROM audit_log WHERE action = 'revocation.session' AND actor = 'directory'");
  expect(ended.rows).toEqual([{ subject: rows[0].details.session }]);
  // The person's sign-in is refused as well now.
  const again = await signIn('grace@corp.example', 'cobol-compiler');
  expect(again.callback).toBeUndefined();
  expect(alert(again.page)).toBe('This account is disabled. Contact your administrator.');
});

test('vigil federation test: the connection, TLS, the service bind and the base DN; a dead directory exits 1', async () => {
  expect(await vigilCli(stack.env, ['federation', 'test', 'corp'])).toEqual({
    provider: 'corp', ok: true, found: `${slapd.ldapsUrl}: LDAPS (TLSv1.3), bound as ${SERVICE_DN}, base DN ${BASE_DN} found`,
  });
  await slapd.kill();
  try {
    const down = await runScript('src/cli.ts', ['federation', 'test', 'corp'], stack.env);
    expect(down.code).toBe(1);
    expect(down.stderr).toMatch(/^vigil: corp: unreachable: the directory of corp is unreachable \(ECONNREFUSED\)/);
  } finally {
    await slapd.start();
  }
});

test('the directory down: its people are told it is unreachable, local accounts still sign in, refreshes wait for it (fail closed)', async () => {
  await slapd.kill();
  try {
    const started = Date.now();
    const down = await signIn('ada@corp.example', 'analytical-engine');
    expect(down.callback).toBeUndefined();
    expect(down.page.status).toBe(502);
    expect(alert(down.page)).toMatch(/Corp directory cannot be reached/);
    expect(Date.now() - started).toBeLessThan(8_000);
    const local = await tokensFor(LOCAL.email, LOCAL.password);
    expect(local.claims()).toMatchObject({ email: LOCAL.email });
    // A refresh cannot be vouched for now: refused (fail closed), the session kept for when it is back.
    const refused = await oidc.refreshTokenGrant(await config(), adaTokens.refresh_token!).then(() => undefined, (e: unknown) => e as { error: string; error_description: string });
    expect(refused).toMatchObject({ error: 'invalid_grant', error_description: expect.stringMatching(/directory cannot be reached/) });
  } finally {
    await slapd.start();
  }
  expect((await oidc.refreshTokenGrant(await config(), adaTokens.refresh_token!)).access_token).toEqual(expect.any(String));
});
