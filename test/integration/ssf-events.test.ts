/**
 * The SETs Vigil sends for changes other than revocations, as a poll receiver sees them:
 * token-claims-change when roles change (CLI and admin API), device-compliance-change when a
 * posture report flips a device, risk-level-change when a refresh's assessment moves the person's
 * level; and the admin API's list of SET deliveries.
 */
import { randomUUID } from 'node:crypto';
import * as oidc from 'openid-client';
import { CompactSign, decodeJwt, exportJWK, generateKeyPair } from 'jose';
import { freePort, vigilCli, type VigilProcess } from '../support/vigil-process.ts';
import { Browser, signIn } from '../support/browserless.ts';
import { discover, pkceAuthorization, startStack, type ClientOut, type Stack } from '../support/stack.ts';
import { clientCredentialsToken, jsonCall } from '../support/json-api.ts';

const PASSWORD = 'correct horse battery staple 9';
const EMAIL = 'ada@vigil.test';
const CAEP = 'https://schemas.openid.net/secevent/caep/event-type/';
const GOOD = { os: 'macOS', osVersion: '14.5', diskEncryption: true, firewall: true, screenLock: true, edrRunning: true, jailbroken: false };
type KeyPair = Awaited<ReturnType<typeof generateKeyPair>>;

let stack: Stack;
let vigil: VigilProcess;
let redirectUri: string;
let rp: ClientOut;
let nativeApp: ClientOut;
let ops: ClientOut;
let accountId: string;
let streamId: string;
let rpToken: string;

const clientToken = (client: ClientOut, resource: string, scope: string) => clientCredentialsToken(vigil.issuer, client, resource, scope);

const api = (method: string, path: string, token: string | undefined, body?: unknown) => jsonCall(vigil.issuer, method, path, token, body);

/** Polls (and acknowledges) until a SET of `type` arrives; returns its claims. */
async function nextEvent(type: string): Promise<Record<string, any>> {
  const end = Date.now() + 10_000;
  for (;;) {
    const res = await api('POST', `/ssf/poll/${streamId}`, rpToken, { returnImmediately: true, maxEvents: 50 });
    expect(res.status).toBe(200);
    const sets = Object.entries(res.body.sets as Record<string, string>);
    if (sets.length) await api('POST', `/ssf/poll/${streamId}`, rpToken, { returnImmediately: true, maxEvents: 0, ack: sets.map(([jti]) => jti) });
    const found = sets.map(([, set]) => decodeJwt(set)).find((c) => type in (c.events as object));
    if (found) return found;
    if (Date.now() > end) throw new Error(`no ${type} SET arrived`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

interface AppSession { config: oidc.Configuration; dpop?: oidc.DPoPHandle; refreshToken: string; accessToken: string }

async function signInTo(client: ClientOut, keys?: KeyPair, extra: Record<string, string> = {}): Promise<AppSession> {
  const config = await discover(vigil.issuer, client);
  const dpop = keys ? oidc.getDPoPHandle(config, keys) : undefined;
  const request = await pkceAuthorization(config, { redirect_uri: redirectUri, scope: 'openid offline_access', prompt: 'consent', ...extra });
  const callback = await signIn(new Browser(), request.url, EMAIL, PASSWORD, redirectUri);
  const tokens = await oidc.authorizationCodeGrant(config, new URL(callback), request.checks, extra.resource ? { resource: extra.resource } : undefined, dpop ? { DPoP: dpop } : undefined);
  return { config, ...(dpop ? { dpop } : {}), refreshToken: tokens.refresh_token!, accessToken: tokens.access_token };
}

let clock = Math.floor(Date.now() / 1000) - 300;
async function report(deviceId: string, keys: KeyPair, fields: Record<string, unknown>) {
  const claims = { iss: deviceId, aud: vigil.issuer, iat: (clock += 2), jti: randomUUID(), ...fields };
  const jws = await new CompactSign(new TextEncoder().encode(JSON.stringify(claims))).setProtectedHeader({ alg: 'ES256', typ: 'posture+jwt' }).sign(keys.privateKey);
  expect((await api('POST', `/devices/${deviceId}/posture`, undefined, { report: jws })).status).toBe(200);
}

beforeAll(async () => {
  stack = await startStack();
  vigil = stack.vigil;
  redirectUri = `http://127.0.0.1:${await freePort()}/cb`;
  const adminApi = `${vigil.issuer}/admin/api`;
  let account: { id: string };
  [account, rp, nativeApp, ops] = await Promise.all([
    vigilCli<{ id: string }>(stack.env, ['user', 'create', '--email', EMAIL, '--password', PASSWORD]),
    vigilCli<ClientOut>(stack.env, ['client', 'create', '--name', 'RP', '--redirect-uri', redirectUri, '--grant-type', 'authorization_code',
      '--grant-type', 'refresh_token', '--grant-type', 'client_credentials', '--allow-resource', `${vigil.issuer}/ssf`, '--scope', 'ssf:stream']),
    vigilCli<ClientOut>(stack.env, ['client', 'create', '--name', 'Notes app', '--public', '--redirect-uri', redirectUri]),
    vigilCli<ClientOut>(stack.env, ['client', 'create', '--name', 'Ops bot', '--grant-type', 'client_credentials', '--allow-resource', adminApi, '--scope', 'admin']),
  ]);
  accountId = account.id;
  await signInTo(rp);
  rpToken = await clientToken(rp, `${vigil.issuer}/ssf`, 'ssf:stream');
  const stream = await api('POST', '/ssf/stream', rpToken, {
    delivery: { method: 'urn:ietf:rfc:8936' },
    events_requested: [`${CAEP}token-claims-change`, `${CAEP}device-compliance-change`, `${CAEP}risk-level-change`],
  });
  expect(stream.status).toBe(201);
  streamId = stream.body.stream_id;
  expect((await api('POST', '/ssf/subjects/add', rpToken, { stream_id: streamId, subject: { format: 'email', email: EMAIL } })).status).toBe(200);
}, 60_000);

afterAll(async () => {
  await stack?.stop();
});

test('token-claims-change when roles change, with the CLI and the admin API; SET deliveries in the admin API', async () => {
  const out = await vigilCli<{ roles: string[]; changed: boolean }>(stack.env, ['user', 'set-roles', '--email', EMAIL, '--role', 'finance']);
  expect(out).toMatchObject({ roles: ['finance'], changed: true });
  const fromCli = await nextEvent(`${CAEP}token-claims-change`);
  expect(fromCli.sub_id).toEqual({ format: 'iss_sub', iss: vigil.issuer, sub: accountId });
  expect(fromCli.events[`${CAEP}token-claims-change`]).toMatchObject({ claims: { roles: ['finance'] }, initiating_entity: 'admin' });

  const adminToken = await clientToken(ops, `${vigil.issuer}/admin/api`, 'admin');
  const res = await api('POST', `/admin/api/accounts/${accountId}/roles`, adminToken, { roles: ['ops', 'finance'], reason: 'moved to operations' });
  expect(res.status).toBe(200);
  expect(res.body).toMatchObject({ id: accountId, roles: ['finance', 'ops'], previousRoles: ['finance'] });
  const fromApi = await nextEvent(`${CAEP}token-claims-change`);
  expect(fromApi.events[`${CAEP}token-claims-change`]).toMatchObject({ claims: { roles: ['finance', 'ops'] }, reason_admin: { en: 'moved to operations' } });

  expect((await api('POST', `/admin/api/accounts/${accountId}/roles`, adminToken, { roles: ['Not A Role'], reason: 'x' })).status).toBe(400);
  expect((await api('GET', '/admin/api/ssf-deliveries?status=failed', adminToken)).body).toEqual({ items: [] });
  const delivered = await api('GET', '/admin/api/ssf-deliveries?status=delivered&limit=1', adminToken);
  expect(delivered.status).toBe(200);
  expect(delivered.body.items[0]).toMatchObject({ streamId, clientId: rp.client_id, clientName: 'RP', eventType: `${CAEP}token-claims-change`, status: 'delivered' });
  expect(delivered.body.next).toEqual(expect.any(String));
  expect((await api('GET', '/admin/api/ssf-deliveries?status=lost', adminToken)).status).toBe(400);
});

test('device-compliance-change when a posture report flips the device; risk-level-change when a refresh moves the level', async () => {
  const keys = await generateKeyPair('ES256', { extractable: true });
  const app = await signInTo(nativeApp, keys);
  const devicesToken = (await signInTo(nativeApp, undefined, { scope: 'openid devices', resource: `${vigil.issuer}/devices` })).accessToken;
  const registered = await api('POST', '/devices', devicesToken, { name: 'laptop', jwk: await exportJWK(keys.publicKey) });
  expect(registered.status).toBe(201);
  const deviceId = registered.body.id as string;
  await report(deviceId, keys, GOOD);
  // Its first report made it compliant (from no report at all).
  expect((await nextEvent(`${CAEP}device-compliance-change`)).events[`${CAEP}device-compliance-change`]).toMatchObject({ current_status: 'compliant' });
  await oidc.refreshTokenGrant(app.config, app.refreshToken, undefined, { DPoP: app.dpop! }).then((t) => { app.refreshToken = t.refresh_token!; });

  await report(deviceId, keys, { ...GOOD, firewall: false });
  const compliance = await nextEvent(`${CAEP}device-compliance-change`);
  expect(compliance.sub_id).toEqual({ format: 'iss_sub', iss: vigil.issuer, sub: accountId });
  expect(compliance.events[`${CAEP}device-compliance-change`]).toMatchObject({
    previous_status: 'compliant', current_status: 'not-compliant', device: { format: 'opaque', id: deviceId }, reason_admin: { en: 'firewall off' },
  });

  // The refresh from the non-compliant device scores higher than the person's usual: their level moves.
  const refused = await oidc.refreshTokenGrant(app.config, app.refreshToken, undefined, { DPoP: app.dpop! }).catch((e: unknown) => e);
  expect(refused).toMatchObject({ error: 'invalid_grant' });
  const risk = await nextEvent(`${CAEP}risk-level-change`);
  expect(risk.events[`${CAEP}risk-level-change`]).toMatchObject({
    principal: 'USER', previous_level: 'LOW', current_level: expect.stringMatching(/^(MEDIUM|HIGH)$/), risk_reason: expect.stringMatching(/firewall off/),
  });
});
