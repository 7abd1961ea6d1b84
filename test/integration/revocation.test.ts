/**
 * Revocation through the one module, seen from outside: a revocation made by another process
 * (the CLI) ends the session's tokens at once on every instance (refresh, introspection,
 * userinfo); each relying party of the session is sent a back-channel logout token, retried
 * with backoff while it is down and delivered when it comes back; one that never accepts is
 * marked failed with its last error, visible to administrators.
 */
import { createServer, type Server } from 'node:http';
import { createRemoteJWKSet, decodeJwt, jwtVerify } from 'jose';
import * as oidc from 'openid-client';
import { freePort, vigilCli, type VigilProcess } from '../support/vigil-process.ts';
import { Browser, signIn } from '../support/browserless.ts';
import { discover, insecure, pkceAuthorization, startStack, type ClientOut, type Stack } from '../support/stack.ts';
import { queryDatabase } from '../support/services.ts';

const PASSWORD = 'correct horse battery staple 9';

/** A relying party's back-channel logout endpoint that answers `status` until told otherwise. */
class LogoutReceiver {
  readonly tokens: string[] = [];
  attempts = 0;
  status = 503;
  server!: Server;
  port!: number;

  async start(): Promise<void> {
    this.port = await freePort();
    this.server = createServer((req, res) => {
      let body = '';
      req.on('data', (c) => { body += c; });
      req.on('end', () => {
        this.attempts += 1;
        if (this.status === 200) this.tokens.push(new URLSearchParams(body).get('logout_token') ?? '');
        res.writeHead(this.status).end();
      });
    });
    await new Promise<void>((resolve) => this.server.listen(this.port, '127.0.0.1', resolve));
  }

  get uri(): string {
    return `http://127.0.0.1:${this.port}/backchannel-logout`;
  }
}

let stack: Stack;
let a: VigilProcess;
let b: VigilProcess;
const flaky = new LogoutReceiver();
const dead = new LogoutReceiver();
let webFlaky: ClientOut;
let webDead: ClientOut;
let introspector: ClientOut;
let redirectUri: string;

const until = async (what: string, check: () => Promise<boolean> | boolean, ms = 10_000) => {
  const end = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
};

interface Delivery { client_id: string; status: string; attempts: number; last_error: string | null; sid: string }
const deliveries = () => queryDatabase<Delivery>(stack.db.url, 'SELECT client_id, status, attempts, last_error, sid FROM backchannel_logouts ORDER BY id');

/** Signs Grace in to `client` through instance A; her tokens and ID token claims. */
async function signInTo(client: ClientOut, browser: Browser) {
  const config = await discover(a.issuer, client);
  const request = await pkceAuthorization(config, { redirect_uri: redirectUri, scope: 'openid offline_access', prompt: 'consent' });
  const callback = await signIn(browser, request.url, 'grace@vigil.test', PASSWORD, redirectUri);
  const tokens = await request.redeem(callback);
  return { config, tokens, claims: tokens.claims()! };
}

beforeAll(async () => {
  await Promise.all([flaky.start(), dead.start()]);
  redirectUri = `http://127.0.0.1:${await freePort()}/cb`;
  stack = await startStack({
    VIGIL_ALLOWED_OUTGOING_HOSTS: `127.0.0.1:${flaky.port},127.0.0.1:${dead.port}`,
    VIGIL_BACKCHANNEL_RETRY_SECONDS: '1',
    VIGIL_BACKCHANNEL_MAX_ATTEMPTS: '3',
  }, { instances: 2 });
  [a, b] = stack.instances;
  [, webFlaky, webDead, introspector] = await Promise.all([
    vigilCli(stack.env, ['user', 'create', '--email', 'grace@vigil.test', '--password', PASSWORD]),
    vigilCli<ClientOut>(stack.env, ['client', 'create', '--name', 'Flaky RP', '--redirect-uri', redirectUri, '--backchannel-logout-uri', flaky.uri]),
    vigilCli<ClientOut>(stack.env, ['client', 'create', '--name', 'Dead RP', '--redirect-uri', redirectUri, '--backchannel-logout-uri', dead.uri]),
    vigilCli<ClientOut>(stack.env, ['client', 'create', '--name', 'Introspector', '--grant-type', 'client_credentials', '--introspect-any']),
  ]);
}, 60_000);

afterAll(async () => {
  await stack?.stop();
  for (const r of [flaky, dead]) await new Promise((resolve) => r.server?.close(resolve));
});

test('a revocation by another process ends the session everywhere at once; every relying party is told, retried while it is down', async () => {
  const browser = new Browser();
  const first = await signInTo(webFlaky, browser);
  // The same browser session signs in to the second relying party too (SSO).
  const second = await signInTo(webDead, browser);
  expect(first.claims.sid).toEqual(expect.any(String));
  const introspectOnB = await discover(a.issuer, introspector, {
    ...insecure, [oidc.customFetch]: (url, options) => fetch(url.replace(a.issuer, b.url), options as RequestInit),
  });
  expect((await oidc.tokenIntrospection(introspectOnB, first.tokens.access_token)).active).toBe(true);

  const revokedAt = Date.now();
  await vigilCli(stack.env, ['user', 'disable', '--email', 'grace@vigil.test']);

  // The stores are the truth on every instance: no waiting for a message.
  for (const token of [first.tokens.access_token, first.tokens.refresh_token!, second.tokens.refresh_token!]) {
    expect((await oidc.tokenIntrospection(introspectOnB, token)).active).toBe(false);
  }
  const userinfo = await fetch(`${b.url}/me`, { headers: { authorization: `Bearer ${first.tokens.access_token}` } });
  expect(userinfo.status).toBe(401);
  expect(userinfo.headers.get('www-authenticate')).toMatch(/invalid_token/);
  await expect(oidc.refreshTokenGrant(first.config, first.tokens.refresh_token!)).rejects.toMatchObject({ error: 'invalid_grant' });
  expect(Date.now() - revokedAt).toBeLessThan(5000);

  // Each relying party of the session has a logout owed; the flaky one is retried with backoff.
  await until('two failed attempts at the flaky relying party', () => flaky.attempts >= 2);
  const owed = await deliveries();
  expect(owed.map((d) => d.client_id).sort()).toEqual([webDead.client_id, webFlaky.client_id].sort());
  const flakyRow = owed.find((d) => d.client_id === webFlaky.client_id)!;
  expect(flakyRow).toMatchObject({ status: 'pending', sid: first.claims.sid });
  expect(flakyRow.last_error).toMatch(/503/);

  flaky.status = 200;
  await until('the flaky relying party accepting the logout token', () => flaky.tokens.length === 1);
  const jwks = createRemoteJWKSet(new URL(`${a.url}/jwks`));
  const { payload, protectedHeader } = await jwtVerify(flaky.tokens[0], jwks, { issuer: a.issuer, audience: webFlaky.client_id });
  expect(protectedHeader.typ).toBe('logout+jwt');
  expect(payload).toMatchObject({ sub: first.claims.sub, sid: first.claims.sid, events: { 'http://schemas.openid.net/event/backchannel-logout': {} } });
  expect(payload.jti).toEqual(expect.any(String));
  expect(payload.nonce).toBeUndefined();
  await until('the delivery marked delivered', async () => (await deliveries()).some((d) => d.client_id === webFlaky.client_id && d.status === 'delivered'));

  // The dead one never accepts: after VIGIL_BACKCHANNEL_MAX_ATTEMPTS it is failed, with its last error.
  await until('the dead relying party given up on', async () => (await deliveries()).some((d) => d.client_id === webDead.client_id && d.status === 'failed'), 15_000);
  const deadRow = (await deliveries()).find((d) => d.client_id === webDead.client_id)!;
  expect(deadRow).toMatchObject({ attempts: 3, sid: second.claims.sid });
  expect(deadRow.last_error).toMatch(/503/);
  expect(dead.attempts).toBe(3);
  expect(decodeJwt(flaky.tokens[0]).aud).toBe(webFlaky.client_id);

  // Audited as what it was: an administrator's revocation of the account, with what it ended.
  const [audited] = await queryDatabase<{ actor: string; details: { initiator: string; sessions: string[]; grants: string[]; clients: string[] } }>(
    stack.db.url, "SELECT actor, details FROM audit_log WHERE action = 'revocation.account'");
  expect(audited.actor).toBe('cli');
  expect(audited.details.initiator).toBe('admin');
  expect(audited.details.sessions).toHaveLength(1);
  expect(audited.details.clients.sort()).toEqual([webDead.client_id, webFlaky.client_id].sort());
  expect(audited.details.grants).toHaveLength(2);
}, 40_000);
