/**
 * A native app whose DPoP key is one of the person's registered devices: sign-in with DPoP, refresh, register
 * the key as a device and report its posture (signed with the key).
 */
import { randomUUID } from 'node:crypto';
import * as oidc from 'openid-client';
import { calculateJwkThumbprint, CompactSign, exportJWK, generateKeyPair, type JWK } from 'jose';
import { Browser, signIn } from './browserless.ts';
import { discover, pkceAuthorization, type ClientOut } from './stack.ts';
import { jsonCall } from './json-api.ts';

export type KeyPair = Awaited<ReturnType<typeof generateKeyPair>>;

export const COMPLIANT_POSTURE = { os: 'macOS', osVersion: '14.5', diskEncryption: true, firewall: true, screenLock: true, edrRunning: true, jailbroken: false };

export interface Person {
  issuer: string;
  email: string;
  password: string;
  redirectUri: string;
}

/** A native app's state after signing a person in with DPoP. */
export interface AppSession {
  config: oidc.Configuration;
  dpop: oidc.DPoPHandle;
  refreshToken: string;
  tokens: oidc.TokenEndpointResponse & oidc.TokenEndpointResponseHelpers;
}

/** Signs the person in through `client` (a public client), redeeming the code with DPoP proofs made with `keys`. */
export async function signInWithDpop(person: Person, client: ClientOut, keys: KeyPair, scope = 'openid offline_access'): Promise<AppSession> {
  const config = await discover(person.issuer, client);
  const dpop = oidc.getDPoPHandle(config, keys);
  const request = await pkceAuthorization(config, { redirect_uri: person.redirectUri, scope, prompt: 'consent' });
  const callback = await signIn(new Browser(), request.url, person.email, person.password, person.redirectUri);
  const tokens = await oidc.authorizationCodeGrant(config, new URL(callback), request.checks, undefined, { DPoP: dpop });
  return { config, dpop, refreshToken: tokens.refresh_token!, tokens };
}

/** Refreshes with a DPoP proof of the app's key, keeping the rotated refresh token. */
export async function refreshWithDpop(app: AppSession): Promise<oidc.TokenEndpointResponse & oidc.TokenEndpointResponseHelpers> {
  const tokens = await oidc.refreshTokenGrant(app.config, app.refreshToken, undefined, { DPoP: app.dpop });
  app.refreshToken = tokens.refresh_token!;
  return tokens;
}

/** A token for the devices API (they are not sender-constrained): a separate authorization for that resource. */
export async function devicesToken(person: Person, client: ClientOut): Promise<string> {
  const resource = `${person.issuer}/devices`;
  const config = await discover(person.issuer, client);
  const request = await pkceAuthorization(config, { redirect_uri: person.redirectUri, scope: 'openid devices', resource, prompt: 'consent' });
  const callback = await signIn(new Browser(), request.url, person.email, person.password, person.redirectUri);
  return (await request.redeem(callback, { resource })).access_token;
}

/** Registers the app's key as one of the person's devices; returns the device id. */
export async function registerDevice(issuer: string, token: string, keys: KeyPair, name: string): Promise<string> {
  const jwk = await exportJWK(keys.publicKey);
  const res = await jsonCall(issuer, 'POST', '/devices', token, { name, jwk });
  if (res.status !== 201 || res.body.jkt !== await calculateJwkThumbprint(jwk as JWK)) throw new Error(`device registration failed: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body.id;
}

// Reports of one device need strictly increasing `iat` seconds.
let clock = Math.floor(Date.now() / 1000) - 300;

/** The device posts a posture report signed with its key (no token needed); the posture Vigil evaluated. */
export async function reportPosture(issuer: string, deviceId: string, keys: KeyPair, fields: Record<string, unknown>) {
  const claims = { iss: deviceId, aud: issuer, iat: (clock += 2), jti: randomUUID(), ...fields };
  const jws = await new CompactSign(new TextEncoder().encode(JSON.stringify(claims)))
    .setProtectedHeader({ alg: 'ES256', typ: 'posture+jwt' }).sign(keys.privateKey);
  const res = await jsonCall(issuer, 'POST', `/devices/${deviceId}/posture`, undefined, { report: jws });
  if (res.status !== 200) throw new Error(`posture report refused: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body.posture as { compliant: boolean; stale: boolean; reasons: string[] };
}
