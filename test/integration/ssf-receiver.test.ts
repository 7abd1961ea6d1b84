/**
 * Vigil as a Shared Signals receiver (RFC 8935 push to /ssf/receive) from transmitters configured
 * in VIGIL_SSF_TRANSMITTERS: one with its keys inline, one serving them at a jwks_uri on loopback.
 * An accepted device-compliance-change makes the device's next refresh owe a step-up and ends a
 * sensitive client's session on it at once; RISC credential-compromise and CAEP session-revoked
 * end the account's sessions; account-disabled disables it; risk-level-change HIGH makes the next
 * refresh owe a step-up. Forged, misaddressed, unknown, replayed, stale, mistyped and non-JSON
 * SETs are refused with their RFC 8935 error, and nothing is applied.
 */
import { createServer, type Server } from 'node:http';
import { randomUUID } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as oidc from 'openid-client';
import pg from 'pg';
import { CompactSign, exportJWK, generateKeyPair, type JWK } from 'jose';
import { freePort, hangUp, ROOT, tempDir, vigilCli, type VigilProcess } from '../support/vigil-process.ts';
import { Browser, formAction, hiddenField, signIn } from '../support/browserless.ts';
import { discover, pkceAuthorization, startStack, type ClientOut, type Stack } from '../support/stack.ts';
import { jsonCall } from '../support/json-api.ts';

const PASSWORD = 'correct horse battery staple 9';
const GOOD = { os: 'macOS', osVersion: '14.5', diskEncryption: true, firewall: true, screenLock: true, edrRunning: true, jailbroken: false };
const CAEP = 'https://schemas.openid.net/secevent/caep/event-type/';
const RISC = 'https://schemas.openid.net/secevent/risc/event-type/';
const IDP = 'https://idp.example';
const MDM = 'https://mdm.example';

type KeyPair = Awaited<ReturnType<typeof generateKeyPair>>;

let stack: Stack;
let vigil: VigilProcess;
let db: pg.Client;
let redirectUri: string;
let nativeApp: ClientOut;
let vaultApp: ClientOut;
let idpKeys: KeyPair;
let mdmKeys: KeyPair;
let forgerKeys: KeyPair;
let jwksServer: Server;
let jwksFetches = 0;

/** A SET as a transmitter signs it; `override` replaces claims (undefined drops one), `header` the protected header. */
async function set(events: Record<string, unknown>, subId: unknown, options: {
  iss?: string; keys?: KeyPair; kid?: string; override?: Record<string, unknown>; header?: Record<string, unknown>;
} = {}): Promise<{ token: string; jti: string }> {
  const jti = randomUUID();
  const claims: Record<string, unknown> = { iss: options.iss ?? IDP, aud: vigil.issuer, iat: Math.floor(Date.now() / 1000), jti, sub_id: subId, events, ...options.override };
  for (const [k, v] of Object.entries(claims)) if (v === undefined) delete claims[k];
  const issuer = claims.iss === MDM ? 'mdm' : 'idp';
  const token = await new CompactSign(new TextEncoder().encode(JSON.stringify(claims)))
    .setProtectedHeader({ alg: 'ES256', typ: 'secevent+jwt', kid: options.kid ?? issuer, ...options.header })
    .sign((options.keys ?? (issuer === 'mdm' ? mdmKeys : idpKeys)).privateKey);
  return { token, jti };
}

async function push(token: string, contentType = 'application/secevent+jwt') {
  const res = await fetch(`${vigil.issuer}/ssf/receive`, { method: 'POST', headers: { 'content-type': contentType }, body: token });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) as { err: string; description: string } : undefined };
}

interface AppSession { config: oidc.Configuration; dpop?: oidc.DPoPHandle; refreshToken: string }

async function signInTo(client: ClientOut, email: string, keys?: KeyPair, extra: Record<string, string> = {}): Promise<AppSession & { accessToken: string }> {
  const config = await discover(vigil.issuer, client);
  const dpop = keys ? oidc.getDPoPHandle(config, keys) : undefined;
  const request = await pkceAuthorization(config, { redirect_uri: redirectUri, scope: 'openid offline_access', prompt: 'consent', ...extra });
  const callback = await signIn(new Browser(), request.url, email, PASSWORD, redirectUri);
  const tokens = await oidc.authorizationCodeGrant(config, new URL(callback), request.checks, extra.resource ? { resource: extra.resource } : undefined, dpop ? { DPoP: dpop } : undefined);
  return { config, ...(dpop ? { dpop } : {}), refreshToken: tokens.refresh_token!, accessToken: tokens.access_token };
}

async function refresh(app: AppSession): Promise<oidc.TokenEndpointResponse> {
  const tokens = await oidc.refreshTokenGrant(app.config, app.refreshToken, undefined, app.dpop ? { DPoP: app.dpop } : undefined);
  app.refreshToken = tokens.refresh_token!;
  return tokens;
}

const refreshError = (app: AppSession) => refresh(app).then(() => undefined, (e: unknown) => e as { error: string; error_description: string });

const api = (method: string, path: string, token: string | undefined, body?: unknown) => jsonCall(vigil.issuer, method, path, token, body);

let clock = Math.floor(Date.now() / 1000) - 300;
async function report(deviceId: string, keys: KeyPair, fields: Record<string, unknown>) {
  const claims = { iss: deviceId, aud: vigil.issuer, iat: (clock += 2), jti: randomUUID(), ...fields };
  const jws = await new CompactSign(new TextEncoder().encode(JSON.stringify(claims))).setProtectedHeader({ alg: 'ES256', typ: 'posture+jwt' }).sign(keys.privateKey);
  const res = await api('POST', `/devices/${deviceId}/posture`, undefined, { report: jws });
  expect(res.status).toBe(200);
}

/** Signs `email` in to `client` with DPoP key `keys`, registers that key as their device (compliant) and binds the grant to it. */
async function deviceSession(client: ClientOut, email: string): Promise<{ app: AppSession; deviceId: string; keys: KeyPair }> {
  const keys = await generateKeyPair('ES256', { extractable: true });
  const app = await signInTo(client, email, keys);
  const devicesToken = (await signInTo(client, email, undefined, { scope: 'openid devices', resource: `${vigil.issuer}/devices` })).accessToken;
  const res = await api('POST', '/devices', devicesToken, { name: 'laptop', jwk: await exportJWK(keys.publicKey) });
  expect(res.status).toBe(201);
  await report(res.body.id, keys, GOOD);
  await refresh(app);
  return { app, deviceId: res.body.id, keys };
}

async function externalCompliance(deviceId: string): Promise<unknown> {
  return (await db.query('SELECT external_compliance FROM devices WHERE id = $1', [deviceId])).rows[0]?.external_compliance ?? null;
}

async function auditEntries(action: string, subject: string): Promise<{ outcome: string; details: Record<string, unknown> }[]> {
  const end = Date.now() + 5000;
  for (;;) {
    const { rows } = await db.query('SELECT outcome, details FROM audit_log WHERE action = $1 AND subject = $2', [action, subject]);
    if (rows.length || Date.now() > end) return rows;
    await new Promise((r) => setTimeout(r, 50));
  }
}

const createUser = (email: string) => vigilCli(stack.env, ['user', 'create', '--email', email, '--password', PASSWORD]);

beforeAll(async () => {
  [idpKeys, mdmKeys, forgerKeys] = await Promise.all([1, 2, 3].map(() => generateKeyPair('ES256', { extractable: true })));
  const jwk = async (keys: KeyPair, kid: string) => ({ ...(await exportJWK(keys.publicKey)) as JWK, kid, alg: 'ES256', use: 'sig' });
  const mdmJwks = JSON.stringify({ keys: [await jwk(mdmKeys, 'mdm')] });
  const jwksPort = await freePort();
  jwksServer = createServer((req, res) => {
    jwksFetches += 1;
    res.writeHead(200, { 'content-type': 'application/json' }).end(mdmJwks);
  });
  await new Promise<void>((resolve) => jwksServer.listen(jwksPort, '127.0.0.1', resolve));

  const dir = tempDir();
  const transmittersFile = join(dir, 'transmitters.json');
  writeFileSync(transmittersFile, JSON.stringify({
    transmitters: [
      { issuer: IDP, jwks: { keys: [await jwk(idpKeys, 'idp')] } },
      { issuer: MDM, jwks_uri: `http://127.0.0.1:${jwksPort}/jwks`, events: [`${CAEP}device-compliance-change`] },
    ],
  }));
  const policyFile = join(dir, 'risk-policy.json');
  const policy = JSON.parse(readFileSync(join(ROOT, 'config/risk-policy.json'), 'utf8'));
  writeFileSync(policyFile, JSON.stringify(policy));
  stack = await startStack({
    VIGIL_SSF_TRANSMITTERS: transmittersFile, VIGIL_RISK_POLICY: policyFile, VIGIL_ALLOWED_OUTGOING_HOSTS: `127.0.0.1:${jwksPort}`,
    VIGIL_SSF_RECEIVE_MAX_AGE_SECONDS: '120',
  });
  vigil = stack.vigil;
  redirectUri = `http://127.0.0.1:${await freePort()}/cb`;
  [, , , , , nativeApp, vaultApp] = await Promise.all([
    createUser('ada@vigil.test'), createUser('bob@vigil.test'), createUser('carol@vigil.test'), createUser('dan@vigil.test'), createUser('eve@vigil.test'),
    vigilCli<ClientOut>(stack.env, ['client', 'create', '--name', 'Notes app', '--public', '--redirect-uri', redirectUri]),
    vigilCli<ClientOut>(stack.env, ['client', 'create', '--name', 'Vault app', '--public', '--redirect-uri', redirectUri]),
  ]);
  // The vault is a sensitive client: its sessions on a device that turns non-compliant end at once.
  policy.clients = { ...policy.clients, [vaultApp.client_id]: { sensitive: true } };
  writeFileSync(policyFile, JSON.stringify(policy));
  await hangUp(vigil, 'reloaded the risk policy');
  db = new pg.Client({ connectionString: stack.db.url });
  await db.connect();
}, 120_000);

afterAll(async () => {
  await db?.end();
  await stack?.stop();
  await new Promise((resolve) => jwksServer?.close(resolve));
});

describe('device-compliance-change', () => {
  let native: Awaited<ReturnType<typeof deviceSession>>;
  let vault: Awaited<ReturnType<typeof deviceSession>>;
  const notCompliant = () => ({ [`${CAEP}device-compliance-change`]: { previous_status: 'compliant', current_status: 'not-compliant', event_timestamp: Math.floor(Date.now() / 1000) } });
  const deviceSubject = (deviceId: string) => ({ format: 'opaque', id: deviceId });

  beforeAll(async () => {
    native = await deviceSession(nativeApp, 'ada@vigil.test');
    vault = await deviceSession(vaultApp, 'ada@vigil.test');
  }, 60_000);

  test('refused SETs get their RFC 8935 error and change nothing', async () => {
    const events = notCompliant();
    const subject = deviceSubject(native.deviceId);
    const cases: [string, Promise<{ token: string }> | { token: string }, string, string?][] = [
      ['forged signature', set(events, subject, { keys: forgerKeys }), 'invalid_key'],
      ['unknown kid', set(events, subject, { kid: 'other' }), 'invalid_key'],
      ['wrong audience', set(events, subject, { override: { aud: 'https://someone-else.example' } }), 'invalid_audience'],
      ['unknown issuer', set(events, subject, { iss: 'https://stranger.example' }), 'invalid_issuer'],
      ['stale iat', set(events, subject, { override: { iat: Math.floor(Date.now() / 1000) - 600 } }), 'invalid_request'],
      ['iat in the future', set(events, subject, { override: { iat: Math.floor(Date.now() / 1000) + 600 } }), 'invalid_request'],
      ['wrong typ', set(events, subject, { header: { typ: 'JWT' } }), 'invalid_request'],
      ['no events', set({}, subject), 'invalid_request'],
      ['malformed known event', set({ [`${CAEP}device-compliance-change`]: { current_status: 'purple' } }, subject), 'invalid_request'],
      ['event the transmitter may not send', set({ [`${RISC}account-disabled`]: {} }, { format: 'email', email: 'ada@vigil.test' }, { iss: MDM }), 'access_denied'],
      ['not a JWT', { token: '{"events": {}}' }, 'invalid_request'],
      ['not JSON inside', { token: `${Buffer.from('{"alg":"ES256","typ":"secevent+jwt"}').toString('base64url')}.${Buffer.from('not json').toString('base64url')}.c2ln` }, 'invalid_request'],
    ];
    for (const [what, made, err] of cases) {
      const res = await push((await made).token);
      expect([what, res.status, res.body?.err]).toEqual([what, 400, err]);
      expect(typeof res.body?.description).toBe('string');
    }
    const wrongType = await push((await set(events, subject)).token, 'application/json');
    expect([wrongType.status, wrongType.body?.err]).toEqual([400, 'invalid_request']);
    const tooLarge = await push('a'.repeat(70 * 1024));
    expect([tooLarge.status, tooLarge.body?.err]).toEqual([400, 'invalid_request']);

    // A replay: the first copy applies (a compliant verdict changes nothing visible), the second is refused.
    const compliant = await set({ [`${CAEP}device-compliance-change`]: { current_status: 'compliant' } }, subject);
    expect((await push(compliant.token)).status).toBe(202);
    const replay = await push(compliant.token);
    expect([replay.status, replay.body?.err, replay.body?.description]).toEqual([400, 'invalid_request', 'this jti was received already']);

    // Two copies pushed at once: one is applied.
    const twice = await set({ [`${CAEP}device-compliance-change`]: { current_status: 'compliant' } }, subject);
    expect((await Promise.all([push(twice.token), push(twice.token)])).map((r) => r.status).sort()).toEqual([202, 400]);

    expect(await externalCompliance(native.deviceId)).toMatchObject({ compliant: true, issuer: IDP });
    expect((await refresh(native.app)).access_token).toBeTruthy();
    const rejected = await auditEntries('ssf.rejected', compliant.jti);
    expect(rejected).toEqual([expect.objectContaining({ outcome: 'denied', details: expect.objectContaining({ iss: IDP, jti: compliant.jti, err: 'invalid_request' }) })]);
    expect(JSON.stringify(rejected)).not.toContain('sub_id');
  });

  test('not-compliant from a transmitter: a sensitive client\'s session ends at once, the next refresh of another owes a step-up', async () => {
    const sent = await set(notCompliant(), { format: 'complex', user: { format: 'email', email: 'ada@vigil.test' }, device: deviceSubject(native.deviceId) });
    expect((await push(sent.token)).status).toBe(202);
    expect(await externalCompliance(native.deviceId)).toMatchObject({ compliant: false, issuer: IDP });
    const accepted = await auditEntries('ssf.received', sent.jti);
    expect(accepted[0]?.details).toMatchObject({ iss: IDP, events: [{ type: `${CAEP}device-compliance-change`, applied: true }] });

    const err = await refreshError(native.app);
    expect(err).toMatchObject({ error: 'invalid_grant', error_description: expect.stringMatching(/^step-up authentication required/) });

    // The vault's device, reported by the MDM whose keys are at its jwks_uri.
    const fromMdm = await set(notCompliant(), deviceSubject(vault.deviceId), { iss: MDM });
    expect((await push(fromMdm.token)).status).toBe(202);
    expect(jwksFetches).toBeGreaterThan(0);
    expect(await refreshError(vault.app)).toMatchObject({ error: 'invalid_grant' });
    const { rows } = await db.query("SELECT details FROM audit_log WHERE action = 'risk.posture_revoke' AND details->>'device' = $1", [vault.deviceId]);
    expect(rows).toHaveLength(1);
  });
});

describe('events about accounts', () => {
  test('RISC credential-compromise ends the account\'s sessions; a refresh is invalid_grant', async () => {
    const app = await signInTo(nativeApp, 'bob@vigil.test');
    await refresh(app);
    const sent = await set({ [`${RISC}credential-compromise`]: { credential_type: 'password' } }, { format: 'email', email: 'bob@vigil.test' });
    expect((await push(sent.token)).status).toBe(202);
    expect(await refreshError(app)).toMatchObject({ error: 'invalid_grant' });
    expect((await auditEntries('ssf.received', sent.jti))[0]?.details).toMatchObject({ events: [{ type: `${RISC}credential-compromise`, applied: true }] });
    // The password alone no longer signs Bob in: his next sign-in owes a second factor, and he has none.
    const { rows } = await db.query('SELECT s.required_acr FROM sign_in_requirements s JOIN accounts a ON a.id = s.account_id WHERE a.email = $1', ['bob@vigil.test']);
    expect(rows).toEqual([{ required_acr: 'urn:vigil:acr:2fa' }]);
    const request = await pkceAuthorization(await discover(vigil.issuer, nativeApp), { redirect_uri: redirectUri, scope: 'openid offline_access', prompt: 'consent' });
    const browser = new Browser();
    const loginPage = await browser.follow(request.url, (u) => u.startsWith(redirectUri));
    const answer = await browser.submit(loginPage, formAction(loginPage.body, '/login'), { csrf: hiddenField(loginPage.body, 'csrf'), email: 'bob@vigil.test', password: PASSWORD }, (u) => u.startsWith(redirectUri));
    expect(answer.status).toBe(403);
    expect(answer.body).toContain('password as exposed');
    expect(answer.location).toBeUndefined();
  });

  test('CAEP session-revoked from the federated IdP (iss_sub in Vigil\'s own terms) ends the sessions', async () => {
    const app = await signInTo(nativeApp, 'dan@vigil.test');
    const { rows } = await db.query('SELECT id FROM accounts WHERE email = $1', ['dan@vigil.test']);
    const sent = await set({ [`${CAEP}session-revoked`]: { initiating_entity: 'admin' } }, { format: 'iss_sub', iss: vigil.issuer, sub: rows[0].id });
    expect((await push(sent.token)).status).toBe(202);
    expect(await refreshError(app)).toMatchObject({ error: 'invalid_grant' });
    expect((await auditEntries('ssf.received', sent.jti))[0]?.details).toMatchObject({ events: [{ applied: true }] });
    // Nothing left: the same event again ends and announces nothing (no echo between two systems).
    const again = await set({ [`${CAEP}session-revoked`]: { initiating_entity: 'admin' } }, { format: 'iss_sub', iss: vigil.issuer, sub: rows[0].id });
    expect((await push(again.token)).status).toBe(202);
    expect((await auditEntries('ssf.received', again.jti))[0]?.details).toMatchObject({ events: [{ applied: false, note: 'the account holds no session or grant' }] });
    expect(await auditEntries('revocation.account', rows[0].id)).toHaveLength(1);
  });

  test('RISC account-disabled disables the account and ends its sessions', async () => {
    const app = await signInTo(nativeApp, 'carol@vigil.test');
    const sent = await set({ [`${RISC}account-disabled`]: { reason: 'hijacking' } }, { format: 'account', uri: 'acct:carol@vigil.test' });
    expect((await push(sent.token)).status).toBe(202);
    expect(await refreshError(app)).toMatchObject({ error: 'invalid_grant' });
    const { rows } = await db.query('SELECT disabled FROM accounts WHERE email = $1', ['carol@vigil.test']);
    expect(rows[0].disabled).toBe(true);
  });

  test('CAEP risk-level-change HIGH: the next refresh owes a step-up; unknown event types and unknown people are accepted and ignored', async () => {
    const app = await signInTo(nativeApp, 'eve@vigil.test');
    const sent = await set({ [`${CAEP}risk-level-change`]: { principal: 'USER', current_level: 'HIGH', risk_reason: 'PASSWORD_FOUND_IN_DATA_BREACH' } }, { format: 'email', email: 'eve@vigil.test' });
    expect((await push(sent.token)).status).toBe(202);
    expect(await refreshError(app)).toMatchObject({ error: 'invalid_grant', error_description: expect.stringMatching(/step-up/) });

    const unknown = await set({ 'https://example.com/event-type/weather': { rain: true } }, { format: 'email', email: 'eve@vigil.test' });
    expect((await push(unknown.token)).status).toBe(202);
    const nobody = await set({ [`${RISC}account-disabled`]: {} }, { format: 'email', email: 'nobody@vigil.test' });
    expect((await push(nobody.token)).status).toBe(202);
    expect((await auditEntries('ssf.received', unknown.jti))[0]?.details).toMatchObject({ events: [{ type: 'https://example.com/event-type/weather', applied: false }] });
    expect((await auditEntries('ssf.received', nobody.jti))[0]?.details).toMatchObject({ events: [{ applied: false, note: 'the subject names no account' }] });
  });
});
