import { copyFileSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as oidc from 'openid-client';
import { freePort, hangUp, ROOT, tempDir, vigilCli, type VigilProcess } from '../support/vigil-process.ts';
import { signIn } from '../support/browserless.ts';
import { browserAt, clientAt } from '../support/from-address.ts';
import { discover, pkceAuthorization, startStack, type ClientOut, type Stack } from '../support/stack.ts';

/**
 * SIGHUP re-reads the risk policy without a restart: a good file takes effect for the next
 * refresh; a bad one is refused in the log and the last good policy stays in force.
 */

const PASSWORD = 'correct horse battery staple 9';
const LONDON = '88.97.0.1';
const FIREFOX = 'Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0';

const dir = tempDir('vigil-risk-reload-');
const policyPath = join(dir, 'risk-policy.json');
const shipped = readFileSync(join(ROOT, 'config/risk-policy.json'), 'utf8');
let stack: Stack;
let vigil: VigilProcess;
let spa: ClientOut;
let redirectUri: string;

/** The SPA's configuration, its requests coming from London through the trusted loopback proxy. */
function rp(): Promise<oidc.Configuration> {
  return clientAt(vigil.issuer, spa, LONDON, FIREFOX);
}

async function signedIn(): Promise<string> {
  const config = await discover(vigil.issuer, spa);
  const request = await pkceAuthorization(config, { redirect_uri: redirectUri, scope: 'openid offline_access', prompt: 'consent' });
  const browser = browserAt(LONDON, FIREFOX);
  const tokens = await request.redeem(await signIn(browser, request.url, 'ada@vigil.test', PASSWORD, redirectUri));
  return tokens.refresh_token!;
}

beforeAll(async () => {
  copyFileSync(join(ROOT, 'config/risk-policy.json'), policyPath);
  const port = await freePort();
  redirectUri = `http://127.0.0.1:${port}/cb`;
  stack = await startStack({ TRUST_PROXY: '127.0.0.1/32', VIGIL_RISK_POLICY: policyPath });
  vigil = stack.vigil;
  [, spa] = await Promise.all([
    vigilCli(stack.env, ['user', 'create', '--email', 'ada@vigil.test', '--password', PASSWORD]),
    vigilCli<ClientOut>(stack.env, ['client', 'create', '--name', 'SPA', '--public', '--redirect-uri', redirectUri]),
  ]);
}, 120_000);

afterAll(async () => {
  await stack?.stop();
  rmSync(dir, { recursive: true, force: true });
});

test('SIGHUP: a policy that revokes every refresh takes effect at once; a broken file is refused and the last good policy stays', async () => {
  let refreshToken = await signedIn();
  const allowed = await oidc.refreshTokenGrant(await rp(), refreshToken);
  expect(allowed.access_token).toBeTruthy();
  refreshToken = allowed.refresh_token!;

  // Every refresh is to be revoked from now on.
  const revokeAll = JSON.parse(shipped);
  revokeAll.refresh.thresholds.push({ minScore: 0, decision: { action: 'revoke' } });
  writeFileSync(policyPath, JSON.stringify(revokeAll, null, 2));
  await hangUp(vigil, 'reloaded the risk policy');
  const err = await oidc.refreshTokenGrant(await rp(), refreshToken).catch((e) => e);
  expect(err).toMatchObject({ error: 'invalid_grant', error_description: expect.stringMatching(/^the session was ended by the risk policy/) });

  // A file that is not JSON: refused, named in the log, and the process keeps serving.
  writeFileSync(policyPath, '{ "version": 1, "levels": ');
  const log = await hangUp(vigil, 'reload refused');
  expect(log).toContain('VIGIL_RISK_POLICY');
  expect(log).toMatch(/not valid JSON/);
  const discovery = await fetch(`${vigil.url}/.well-known/openid-configuration`);
  expect(discovery.status).toBe(200);
  // …with the last good policy: a new session's refresh is still revoked.
  const fresh = await signedIn();
  await expect(oidc.refreshTokenGrant(await rp(), fresh)).rejects.toMatchObject({
    error: 'invalid_grant', error_description: expect.stringMatching(/^the session was ended by the risk policy/),
  });

  // The shipped policy back: refreshes are allowed again, without a restart.
  writeFileSync(policyPath, shipped);
  await hangUp(vigil, 'reloaded the risk policy');
  const again = await oidc.refreshTokenGrant(await rp(), await signedIn());
  expect(again.access_token).toBeTruthy();
});
