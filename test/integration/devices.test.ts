import { randomUUID } from 'node:crypto';
import * as oidc from 'openid-client';
import pg from 'pg';
import { CompactSign, exportJWK, generateKeyPair } from 'jose';
import { freePort, vigilCli, type VigilProcess } from '../support/vigil-process.ts';
import { Browser, signIn } from '../support/browserless.ts';
import { discover, pkceAuthorization, startStack, type ClientOut, type Stack } from '../support/stack.ts';

const PASSWORD = 'correct horse battery staple 9';
const GOOD = { os: 'macOS', osVersion: '14.5', diskEncryption: true, firewall: true, screenLock: true, edrRunning: true, jailbroken: false };

let stack: Stack;
let vigil: VigilProcess;
let resource: string;
let redirectUri: string;
let web: ClientOut;
let mdm: ClientOut;
let adaId: string;
let bobId: string;
let adaToken: string;
let bobToken: string;
let deviceKeys: Awaited<ReturnType<typeof generateKeyPair>>;
let deviceId: string;

async function personToken(email: string, params: Record<string, string> = { scope: 'openid devices', resource }): Promise<string> {
  const config = await discover(vigil.issuer, web);
  const request = await pkceAuthorization(config, { redirect_uri: redirectUri, prompt: 'consent', ...params });
  const callback = await signIn(new Browser(), request.url, email, PASSWORD, redirectUri);
  const tokens = await request.redeem(callback, params.resource ? { resource: params.resource } : undefined);
  return tokens.access_token;
}

async function clientToken(client: ClientOut, scope: string): Promise<string> {
  return (await oidc.clientCredentialsGrant(await discover(vigil.issuer, client), { resource, scope })).access_token;
}

async function api(method: string, path: string, token?: string, body?: unknown) {
  const res = await fetch(`${vigil.issuer}${path}`, {
    method,
    headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, headers: res.headers, body: text ? JSON.parse(text) : undefined };
}

let clock = Math.floor(Date.now() / 1000) - 120;
async function signedReport(fields: Record<string, unknown>, o: { iat?: number; iss?: string; keys?: typeof deviceKeys } = {}) {
  const claims = { iss: o.iss ?? deviceId, aud: vigil.issuer, iat: o.iat ?? (clock += 5), jti: randomUUID(), ...fields };
  return new CompactSign(new TextEncoder().encode(JSON.stringify(claims)))
    .setProtectedHeader({ alg: 'ES256', typ: 'posture+jwt' }).sign((o.keys ?? deviceKeys).privateKey);
}

beforeAll(async () => {
  stack = await startStack();
  vigil = stack.vigil;
  resource = `${vigil.issuer}/devices`;
  redirectUri = `http://127.0.0.1:${await freePort()}/cb`;
  adaId = (await vigilCli<{ id: string }>(stack.env, ['user', 'create', '--email', 'ada@vigil.test', '--password', PASSWORD, '--name', 'Ada'])).id;
  bobId = (await vigilCli<{ id: string }>(stack.env, ['user', 'create', '--email', 'bob@vigil.test', '--password', PASSWORD, '--name', 'Bob'])).id;
  web = await vigilCli(stack.env, ['client', 'create', '--name', 'Device agent', '--redirect-uri', redirectUri]);
  mdm = await vigilCli(stack.env, ['client', 'create', '--name', 'MDM', '--grant-type', 'client_credentials', '--allow-resource', resource]);
  adaToken = await personToken('ada@vigil.test');
  bobToken = await personToken('bob@vigil.test');
  deviceKeys = await generateKeyPair('ES256', { extractable: true });
}, 120_000);

afterAll(async () => {
  await stack?.stop();
});

test('the devices API is a resource server: a person gets an opaque token with the devices scope', async () => {
  expect(adaToken.split('.')).toHaveLength(1);
  const res = await api('GET', '/devices', adaToken);
  expect(res.status).toBe(200);
  expect(res.body).toEqual({ devices: [] });
});

test('no token: 401 with a Bearer challenge', async () => {
  const res = await api('GET', '/devices');
  expect(res.status).toBe(401);
  expect(res.headers.get('www-authenticate')).toBe(`Bearer realm="${resource}"`);
  const bad = await api('GET', '/devices', 'not-a-real-token');
  expect(bad.status).toBe(401);
  expect(bad.body.error).toBe('invalid_token');
  expect(bad.headers.get('www-authenticate')).toMatch(/^Bearer realm=".*", error="invalid_token", error_description=/);
});

test('tokens for something else, revoked tokens and malformed headers: 401', async () => {
  const userinfoToken = await personToken('ada@vigil.test', { scope: 'openid' });
  const other = await api('GET', '/devices', userinfoToken);
  expect([other.status, other.body.error]).toEqual([401, 'invalid_token']);
  const fresh = await personToken('ada@vigil.test');
  expect((await api('GET', '/devices', fresh)).status).toBe(200);
  await oidc.tokenRevocation(await discover(vigil.issuer, web), fresh);
  expect((await api('GET', '/devices', fresh)).status).toBe(401);
  const basic = await fetch(`${resource}`, { headers: { authorization: 'Basic abc' } });
  expect(basic.status).toBe(401);
  expect((await basic.json()).error).toBe('invalid_request');
});

test('bad bodies get JSON 4xx, never 500', async () => {
  const post = (body: string, type = 'application/json') => fetch(resource, { method: 'POST', headers: { authorization: `Bearer ${adaToken}`, 'content-type': type }, body });
  expect((await post('{not json')).status).toBe(400);
  expect((await post('[]')).status).toBe(400);
  expect((await post('name=x', 'application/x-www-form-urlencoded')).status).toBe(415);
  expect((await post(JSON.stringify({ name: 'x', jwk: 'x'.repeat(20_000) }))).status).toBe(413);
  expect((await post(JSON.stringify({ name: 'x', jwk: { kty: 'EC', crv: 'P-256', x: 'a', y: 'b' } }))).status).toBe(400);
  expect((await api('GET', '/devices/not-an-id', adaToken)).status).toBe(404);
  const posture = await fetch(`${resource}/dev_AAAAAAAAAAAAAAAAAAAAAA/posture`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{' });
  expect(posture.status).toBe(400);
});

test('a person registers a device; the key is validated and unique', async () => {
  const jwk = await exportJWK(deviceKeys.publicKey);
  const res = await api('POST', '/devices', adaToken, { name: 'Ada\'s laptop', jwk });
  expect(res.status).toBe(201);
  expect(res.body).toMatchObject({ name: 'Ada\'s laptop', accountId: adaId, posture: { compliant: false, stale: true, reasons: ['no posture report'] } });
  deviceId = res.body.id;
  expect(res.headers.get('location')).toBe(`/devices/${deviceId}`);
  expect((await api('POST', '/devices', adaToken, { name: 'again', jwk })).body.error).toBe('device_key_in_use');
  const priv = await api('POST', '/devices', adaToken, { name: 'oops', jwk: await exportJWK(deviceKeys.privateKey) });
  expect(priv.status).toBe(400);
  expect(priv.body.error).toBe('invalid_jwk');
  expect((await api('POST', '/devices', adaToken, { name: '', jwk })).status).toBe(400);
  expect((await api('GET', '/devices', adaToken)).body.devices.map((d: { id: string }) => d.id)).toEqual([deviceId]);
});

test('a signed compliant report makes the device compliant', async () => {
  const res = await api('POST', `/devices/${deviceId}/posture`, undefined, { report: await signedReport(GOOD) });
  expect(res.status).toBe(200);
  expect(res.body.posture).toEqual({ compliant: true, stale: false, reasons: [] });
  const got = await api('GET', `/devices/${deviceId}`, adaToken);
  expect(got.body).toMatchObject({ lastReport: GOOD, lastReportSource: 'device', posture: { compliant: true, stale: false, reasons: [] } });
});

test('a non-compliant report: non-compliant with reasons; a replay of it is refused', async () => {
  const report = await signedReport({ ...GOOD, diskEncryption: false, osVersion: '13.1' });
  const res = await api('POST', `/devices/${deviceId}/posture`, adaToken, { report });
  expect(res.status).toBe(200);
  expect(res.body.posture).toEqual({ compliant: false, stale: false, reasons: ['disk not encrypted', 'macOS 13.1 is older than the minimum 14.0'] });
  const replay = await api('POST', `/devices/${deviceId}/posture`, undefined, { report });
  expect(replay.status).toBe(409);
  expect(replay.body.error).toBe('replayed_report');
  // An older report is refused too; the stored posture is unchanged.
  const older = await api('POST', `/devices/${deviceId}/posture`, undefined, { report: await signedReport(GOOD, { iat: clock - 3 }) });
  expect(older.body.error).toBe('replayed_report');
  expect((await api('GET', `/devices/${deviceId}`, adaToken)).body.posture.compliant).toBe(false);
});

test('reports refused: bad signature, unknown device, future-dated, stale, missing fields', async () => {
  const other = await generateKeyPair('ES256', { extractable: true });
  const cases: Array<[string, number, string]> = [
    [await signedReport(GOOD, { keys: other }), 400, 'invalid_signature'],
    [await signedReport(GOOD, { iat: Math.floor(Date.now() / 1000) + 600 }), 400, 'report_from_future'],
    [await signedReport(GOOD, { iat: Math.floor(Date.now() / 1000) - 2 * 86400 }), 400, 'stale_report'],
    [await signedReport({ ...GOOD, firewall: undefined }), 400, 'invalid_report'],
  ];
  for (const [report, status, error] of cases) {
    const res = await api('POST', `/devices/${deviceId}/posture`, undefined, { report });
    expect([res.status, res.body.error]).toEqual([status, error]);
  }
  const unknown = 'dev_AAAAAAAAAAAAAAAAAAAAAA';
  const res = await api('POST', `/devices/${unknown}/posture`, undefined, { report: await signedReport(GOOD, { iss: unknown }) });
  expect([res.status, res.body.error]).toEqual([404, 'unknown_device']);
  // With a person's token the refusal is audited too; another person's device is unknown to them.
  const bobs = await api('POST', `/devices/${deviceId}/posture`, bobToken, { report: await signedReport(GOOD) });
  expect([bobs.status, bobs.body.error]).toEqual([404, 'unknown_device']);
  expect((await api('POST', `/devices/${deviceId}/posture`, undefined, { report: 42 })).status).toBe(400);
  expect((await api('GET', `/devices/${deviceId}`, adaToken)).body.posture.compliant).toBe(false);
});

test('an MDM client (client_credentials, devices:manage) reports for any device', async () => {
  const token = await clientToken(mdm, 'devices:manage');
  const res = await api('POST', `/devices/${deviceId}/posture`, token, { report: GOOD });
  expect(res.status).toBe(200);
  expect(res.body).toMatchObject({ lastReportSource: 'mdm', posture: { compliant: true, stale: false, reasons: [] } });
  expect((await api('GET', '/devices', token)).body.devices.map((d: { id: string }) => d.id)).toContain(deviceId);
  // It registers and removes devices for a named person.
  const keys = await generateKeyPair('Ed25519', { extractable: true });
  const reg = await api('POST', '/devices', token, { name: 'Fleet phone', accountId: bobId, jwk: await exportJWK(keys.publicKey) });
  expect(reg.status).toBe(201);
  expect(reg.body.accountId).toBe(bobId);
  expect((await api('GET', '/devices', bobToken)).body.devices.map((d: { id: string }) => d.id)).toEqual([reg.body.id]);
  expect((await api('POST', '/devices', token, { name: 'Nobody', accountId: 'no-such-account', jwk: await exportJWK((await generateKeyPair('ES256', { extractable: true })).publicKey) })).status).toBe(400);
  expect((await api('DELETE', `/devices/${reg.body.id}`, token)).status).toBe(204);
  // A person cannot self-attest with plain JSON.
  const person = await api('POST', `/devices/${deviceId}/posture`, adaToken, { report: GOOD });
  expect([person.status, person.body.error]).toEqual([403, 'insufficient_scope']);
});

test('a token without the needed scope: 403 insufficient_scope', async () => {
  const token = await clientToken(mdm, 'devices');
  const res = await api('GET', '/devices', token);
  expect(res.status).toBe(403);
  expect(res.body.error).toBe('insufficient_scope');
  expect(res.headers.get('www-authenticate')).toMatch(/error="insufficient_scope".*scope="devices:manage"/);
  expect((await api('POST', `/devices/${deviceId}/posture`, token, { report: GOOD })).status).toBe(403);
});

test('a person sees and removes only their own devices', async () => {
  expect((await api('GET', '/devices', bobToken)).body.devices).toEqual([]);
  expect((await api('GET', `/devices/${deviceId}`, bobToken)).status).toBe(404);
  expect((await api('DELETE', `/devices/${deviceId}`, bobToken)).status).toBe(404);
  expect((await api('DELETE', `/devices/${deviceId}`, adaToken)).status).toBe(204);
  expect((await api('GET', `/devices/${deviceId}`, adaToken)).status).toBe(404);
  const after = await api('POST', `/devices/${deviceId}/posture`, undefined, { report: await signedReport(GOOD) });
  expect(after.body.error).toBe('unknown_device');
});

test('every change is in the audit trail', async () => {
  const db = new pg.Client({ connectionString: stack.db.url });
  await db.connect();
  const { rows } = await db.query<{ action: string; outcome: string; details: { reason?: string } }>(
    "SELECT action, outcome, details FROM audit_log WHERE action LIKE 'device.%' ORDER BY seq").finally(() => db.end());
  const actions = rows.map((r) => r.action);
  expect(actions).toEqual(expect.arrayContaining(['device.registered', 'device.posture_accepted', 'device.posture_rejected', 'device.removed']));
  const reasons = rows.filter((r) => r.action === 'device.posture_rejected').map((r) => r.details.reason);
  expect(reasons).toEqual(expect.arrayContaining(['replayed_report', 'invalid_signature', 'report_from_future', 'stale_report', 'invalid_report', 'unknown_device']));
});

test('rejected posture reports are rate limited per address (anyone may post one)', async () => {
  const limited = await startStack({ VIGIL_LOGIN_MAX_FAILURES_PER_IP: '3' });
  try {
    const post = () => fetch(`${limited.vigil.issuer}/devices/dev_${'A'.repeat(22)}/posture`, {
      method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ report: 'not.a.jws' }),
    });
    for (let i = 0; i < 3; i++) expect((await post()).status).toBeGreaterThanOrEqual(400);
    const locked = await post();
    expect(locked.status).toBe(429);
    expect(Number(locked.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(await locked.json()).toMatchObject({ error: 'invalid_request', error_description: expect.stringMatching(/too many rejected posture reports/) });
  } finally {
    await limited.stop();
  }
});
