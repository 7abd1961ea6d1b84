/**
 * Registered devices in the continuous check, as a native app and its person see them: a refresh
 * made with a DPoP proof by a registered device's key is bound to that device, whose posture then
 * counts (step-up when it fails, or the session ended at once for a sensitive client).
 */
import { randomUUID } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as oidc from 'openid-client';
import pg from 'pg';
import { calculateJwkThumbprint, CompactSign, exportJWK, generateKeyPair, type JWK } from 'jose';
import { freePort, hangUp, ROOT, tempDir, vigilCli, type VigilProcess } from '../support/vigil-process.ts';
import { Browser, signIn } from '../support/browserless.ts';
import { discover, pkceAuthorization, startStack, type ClientOut, type Stack } from '../support/stack.ts';
import { jsonCall } from '../support/json-api.ts';

const PASSWORD = 'correct horse battery staple 9';
const EMAIL = 'ada@vigil.test';
const GOOD = { os: 'macOS', osVersion: '14.5', diskEncryption: true, firewall: true, screenLock: true, edrRunning: true, jailbroken: false };

type KeyPair = Awaited<ReturnType<typeof generateKeyPair>>;

let stack: Stack;
let vigil: VigilProcess;
let db: pg.Client;
let redirectUri: string;
let devicesResource: string;
/** A native app (public client) under the shipped policy. */
let nativeApp: ClientOut;
/** A native app the policy marks sensitive. */
let vaultApp: ClientOut;
/** May introspect any token. */
let auditor: ClientOut;

/** A native app's state after signing a person in with DPoP. */
interface AppSession {
  config: oidc.Configuration;
  dpop: oidc.DPoPHandle;
  refreshToken: string;
}

/** Signs Ada in through `client` (a public client), redeeming the code with DPoP proofs made with `keys`. */
async function signInWithDpop(client: ClientOut, keys: KeyPair): Promise<AppSession> {
  const config = await discover(vigil.issuer, client);
  const dpop = oidc.getDPoPHandle(config, keys);
  const request = await pkceAuthorization(config, { redirect_uri: redirectUri, scope: 'openid offline_access', prompt: 'consent' });
  const callback = await signIn(new Browser(), request.url, EMAIL, PASSWORD, redirectUri);
  const tokens = await oidc.authorizationCodeGrant(config, new URL(callback), request.checks, undefined, { DPoP: dpop });
  expect(tokens.token_type.toLowerCase()).toBe('dpop');
  return { config, dpop, refreshToken: tokens.refresh_token! };
}

/** Refreshes with a DPoP proof of the app's key, keeping the rotated refresh token. */
async function refresh(app: AppSession): Promise<oidc.TokenEndpointResponse> {
  const tokens = await oidc.refreshTokenGrant(app.config, app.refreshToken, undefined, { DPoP: app.dpop });
  app.refreshToken = tokens.refresh_token!;
  return tokens;
}

/** A token for the devices API (they are not sender-constrained): a separate authorization for that resource. */
async function devicesToken(client: ClientOut): Promise<string> {
  const config = await discover(vigil.issuer, client);
  const params = { redirect_uri: redirectUri, scope: 'openid devices', resource: devicesResource, prompt: 'consent' };
  const request = await pkceAuthorization(config, params);
  const callback = await signIn(new Browser(), request.url, EMAIL, PASSWORD, redirectUri);
  return (await request.redeem(callback, { resource: devicesResource })).access_token;
}

const api = (method: string, path: string, token: string | undefined, body?: unknown) => jsonCall(vigil.issuer, method, path, token, body);

/** Registers the app's key as one of Ada's devices; returns the device id. */
async function registerDevice(token: string, keys: KeyPair, name: string): Promise<string> {
  const jwk = await exportJWK(keys.publicKey);
  const res = await api('POST', '/devices', token, { name, jwk });
  expect(res.status).toBe(201);
  expect(res.body.jkt).toBe(await calculateJwkThumbprint(jwk as JWK));
  return res.body.id;
}

// Reports of one device need strictly increasing `iat` seconds.
let clock = Math.floor(Date.now() / 1000) - 300;

/** The device posts a posture report signed with its key (no token needed). */
async function report(deviceId: string, keys: KeyPair, fields: Record<string, unknown>) {
  const claims = { iss: deviceId, aud: vigil.issuer, iat: (clock += 2), jti: randomUUID(), ...fields };
  const jws = await new CompactSign(new TextEncoder().encode(JSON.stringify(claims)))
    .setProtectedHeader({ alg: 'ES256', typ: 'posture+jwt' }).sign(keys.privateKey);
  const res = await api('POST', `/devices/${deviceId}/posture`, undefined, { report: jws });
  expect(res.status).toBe(200);
  return res.body.posture as { compliant: boolean; stale: boolean; reasons: string[] };
}

async function introspect(token: string): Promise<boolean> {
  return (await oidc.tokenIntrospection(await discover(vigil.issuer, auditor), token)).active;
}

interface AssessmentRow { device_id: string | null; decision: { action: string; acr?: string }; signals: { name: string; reason: string }[] }

async function lastRefreshAssessment(clientId: string): Promise<AssessmentRow> {
  // Allowed refreshes' assessments are written behind, in batches every ~200 ms.
  await new Promise((resolve) => setTimeout(resolve, 700));
  const { rows } = await db.query<AssessmentRow>(
    "SELECT device_id, decision, signals FROM risk_assessments WHERE type = 'refresh' AND client_id = $1 ORDER BY at DESC, id DESC LIMIT 1", [clientId]);
  expect(rows).toHaveLength(1);
  return rows[0];
}

async function boundDevices(clientId: string): Promise<(string | null)[]> {
  const { rows } = await db.query<{ device_id: string | null }>('SELECT device_id FROM risk_grant_bindings WHERE client_id = $1', [clientId]);
  return rows.map((r) => r.device_id);
}

beforeAll(async () => {
  // The shipped policy, in a file of the test's own: the sensitive client is added once it exists.
  const policyFile = join(tempDir(), 'risk-policy.json');
  const policy = JSON.parse(readFileSync(join(ROOT, 'config/risk-policy.json'), 'utf8'));
  writeFileSync(policyFile, JSON.stringify(policy));
  stack = await startStack({ VIGIL_RISK_POLICY: policyFile });
  vigil = stack.vigil;
  devicesResource = `${vigil.issuer}/devices`;
  redirectUri = `http://127.0.0.1:${await freePort()}/cb`;
  const env = stack.env;
  [, nativeApp, vaultApp, auditor] = await Promise.all([
    vigilCli(env, ['user', 'create', '--email', EMAIL, '--password', PASSWORD, '--name', 'Ada']),
    vigilCli<ClientOut>(env, ['client', 'create', '--name', 'Notes app', '--public', '--redirect-uri', redirectUri]),
    vigilCli<ClientOut>(env, ['client', 'create', '--name', 'Vault app', '--public', '--redirect-uri', redirectUri]),
    vigilCli<ClientOut>(env, ['client', 'create', '--name', 'Token auditor', '--grant-type', 'client_credentials', '--introspect-any']),
  ]);
  policy.clients = { ...policy.clients, [vaultApp.client_id]: { sensitive: true } };
  writeFileSync(policyFile, JSON.stringify(policy));
  await hangUp(vigil, 'reloaded the risk policy');
  db = new pg.Client({ connectionString: stack.db.url });
  await db.connect();
}, 120_000);

afterAll(async () => {
  await db?.end();
  await stack?.stop();
});

describe('a native app whose key is a registered device', () => {
  let keys: KeyPair;
  let app: AppSession;
  let deviceId: string;

  test('a compliant device: the refresh is allowed, assessed on that device, and the grant is bound to it', async () => {
    keys = await generateKeyPair('ES256', { extractable: true });
    app = await signInWithDpop(nativeApp, keys);
    deviceId = await registerDevice(await devicesToken(nativeApp), keys, 'Ada\'s phone');
    expect(await report(deviceId, keys, GOOD)).toEqual({ compliant: true, stale: false, reasons: [] });

    const tokens = await refresh(app);
    expect(tokens.access_token).toBeTruthy();
    expect(tokens.token_type.toLowerCase()).toBe('dpop');
    const assessed = await lastRefreshAssessment(nativeApp.client_id);
    expect(assessed.device_id).toBe(deviceId);
    expect(assessed.decision).toEqual({ action: 'allow' });
    expect(assessed.signals.map((s) => s.name)).not.toEqual(expect.arrayContaining(['device_noncompliant']));
    expect(assessed.signals.map((s) => s.name)).not.toEqual(expect.arrayContaining(['posture_stale']));
    expect(await boundDevices(nativeApp.client_id)).toEqual([deviceId]);
  });

  test('the device turns non-compliant: the next refresh needs a step-up (shipped policy), the session is not revoked', async () => {
    expect(await report(deviceId, keys, { ...GOOD, diskEncryption: false })).toEqual({ compliant: false, stale: false, reasons: ['disk not encrypted'] });
    // Not a sensitive client: nothing ends at the report itself.
    expect(await introspect(app.refreshToken)).toBe(true);

    const err = await refresh(app).catch((e: unknown) => e);
    expect(err).toMatchObject({ error: 'invalid_grant', error_description: expect.stringMatching(/^step-up authentication required/) });
    const assessed = await lastRefreshAssessment(nativeApp.client_id);
    expect(assessed.device_id).toBe(deviceId);
    expect(assessed.decision).toEqual({ action: 'step_up', acr: 'urn:vigil:acr:phr' });
    expect(assessed.signals.find((s) => s.name === 'device_noncompliant')?.reason).toMatch(/disk not encrypted/);
    // A step-up ends nothing: the grant and its binding stay.
    expect(await introspect(app.refreshToken)).toBe(true);
    expect(await boundDevices(nativeApp.client_id)).toEqual([deviceId]);
  });
});

test('a sensitive client: a non-compliant report ends the device\'s session at once, before any refresh', async () => {
  const keys = await generateKeyPair('ES256', { extractable: true });
  const app = await signInWithDpop(vaultApp, keys);
  const deviceId = await registerDevice(await devicesToken(vaultApp), keys, 'Ada\'s laptop');
  await report(deviceId, keys, GOOD);
  await refresh(app);
  expect((await lastRefreshAssessment(vaultApp.client_id)).device_id).toBe(deviceId);
  expect(await boundDevices(vaultApp.client_id)).toEqual([deviceId]);
  expect(await introspect(app.refreshToken)).toBe(true);

  expect((await report(deviceId, keys, { ...GOOD, firewall: false })).compliant).toBe(false);
  // Revoked while the report was handled: no refresh was needed.
  expect(await introspect(app.refreshToken)).toBe(false);
  const { rows } = await db.query<{ actor: string; subject: string; outcome: string; details: Record<string, unknown> }>(
    "SELECT actor, subject, outcome, details FROM audit_log WHERE action = 'risk.posture_revoke' ORDER BY seq");
  expect(rows).toHaveLength(1);
  expect(rows[0]).toMatchObject({ actor: 'system', outcome: 'success', details: { device: deviceId, client: vaultApp.client_id, reasons: ['firewall off'] } });
  expect(await boundDevices(vaultApp.client_id)).toEqual([]);
  await expect(refresh(app)).rejects.toMatchObject({ error: 'invalid_grant' });
});

test('a refresh token bound to the app\'s key is refused without a DPoP proof or with another key', async () => {
  const keys = await generateKeyPair('ES256', { extractable: true });
  const app = await signInWithDpop(nativeApp, keys);
  await expect(oidc.refreshTokenGrant(app.config, app.refreshToken)).rejects.toMatchObject({ error: 'invalid_grant' });
  const other = oidc.getDPoPHandle(app.config, await generateKeyPair('ES256', { extractable: true }));
  await expect(oidc.refreshTokenGrant(app.config, app.refreshToken, undefined, { DPoP: other })).rejects.toMatchObject({ error: 'invalid_grant' });
  // Those refusals consumed nothing: the app's own key still refreshes.
  expect((await refresh(app)).access_token).toBeTruthy();
});
