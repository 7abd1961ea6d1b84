import { CompactSign, exportJWK, generateKeyPair, type JWK } from 'jose';
import {
  checkReportTime, parseMdmReport, PostureReportError, validateDeviceKey, verifyPostureReport, type ReportDevice,
} from '../../../src/devices/index.ts';

const ISSUER = 'https://id.vigil.test';
const NOW = Date.parse('2026-06-01T12:00:00Z');
const NOW_S = NOW / 1000;
const FIELDS = { os: 'macOS', osVersion: '14.5', diskEncryption: true, firewall: true, screenLock: true, edrRunning: true, jailbroken: false };

type KeyPair = Awaited<ReturnType<typeof generateKeyPair>>;
let ec: KeyPair;
let ed: KeyPair;
let other: KeyPair;
let devices: Map<string, ReportDevice>;

async function sign(keys: KeyPair, claims: Record<string, unknown>, header: Record<string, unknown> = {}, alg = 'ES256'): Promise<string> {
  return new CompactSign(new TextEncoder().encode(JSON.stringify(claims))).setProtectedHeader({ alg, typ: 'posture+jwt', ...header }).sign(keys.privateKey);
}
const claims = (o: Record<string, unknown> = {}) => ({ iss: 'dev-ec', aud: ISSUER, iat: NOW_S - 5, jti: 'r-1', ...FIELDS, ...o });
const options = (o: Partial<Parameters<typeof verifyPostureReport>[1]> = {}) => ({
  issuer: ISSUER, now: NOW, freshnessSeconds: 3600, maxClockSkewSeconds: 60, findDevice: async (id: string) => devices.get(id), ...o,
});
async function refused(jws: string, code: string, o: Partial<Parameters<typeof verifyPostureReport>[1]> = {}) {
  const err = await verifyPostureReport(jws, options(o)).then(() => undefined, (e: unknown) => e);
  expect(err).toBeInstanceOf(PostureReportError);
  expect((err as PostureReportError).code).toBe(code);
  return err as PostureReportError;
}

beforeAll(async () => {
  ec = await generateKeyPair('ES256', { extractable: true });
  ed = await generateKeyPair('Ed25519', { extractable: true });
  other = await generateKeyPair('ES256', { extractable: true });
  devices = new Map([
    ['dev-ec', { id: 'dev-ec', publicJwk: await exportJWK(ec.publicKey) }],
    ['dev-ed', { id: 'dev-ed', publicJwk: await exportJWK(ed.publicKey) }],
    ['dev-seen', { id: 'dev-seen', publicJwk: await exportJWK(ec.publicKey), lastReportAt: (NOW_S - 10) * 1000 }],
  ]);
});

describe('device keys', () => {
  test('EC P-256 and Ed25519 public keys are accepted, with their RFC 7638 thumbprint', async () => {
    const key = await validateDeviceKey({ ...await exportJWK(ec.publicKey), kid: 'ignored', use: 'sig' });
    expect(Object.keys(key.jwk).sort()).toEqual(['crv', 'kty', 'x', 'y']);
    expect(key.jkt).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect((await validateDeviceKey(await exportJWK(ed.publicKey))).algorithms).toEqual(['EdDSA', 'Ed25519']);
  });

  test.each<[string, () => Promise<unknown>, RegExp]>([
    ['a private key', async () => exportJWK(ec.privateKey), /private part/],
    ['an RSA key', async () => exportJWK((await generateKeyPair('RS256', { extractable: true })).publicKey), /EC P-256 key/],
    ['a P-384 key', async () => exportJWK((await generateKeyPair('ES384', { extractable: true })).publicKey), /EC P-256 key/],
    ['a point not on the curve', async () => ({ ...await exportJWK(ec.publicKey), y: 'AAAA' }), /not a valid public key/],
    ['not an object', async () => 'a key', /JSON Web Key object/],
  ])('refuses %s', async (_name, make, message) => {
    await expect(validateDeviceKey(await make())).rejects.toThrow(message);
  });
});

describe('signed posture reports', () => {
  test('a good ES256 report verifies', async () => {
    await expect(verifyPostureReport(await sign(ec, claims()), options())).resolves.toEqual({
      deviceId: 'dev-ec', reportedAt: (NOW_S - 5) * 1000, jti: 'r-1', fields: FIELDS,
    });
  });

  test('a good Ed25519 report verifies', async () => {
    const jws = await sign(ed, claims({ iss: 'dev-ed' }), {}, 'EdDSA');
    await expect(verifyPostureReport(jws, options())).resolves.toMatchObject({ deviceId: 'dev-ed' });
  });

  test('bad signature: signed by another key', async () => {
    await refused(await sign(other, claims()), 'invalid_signature');
  });

  test('bad signature: payload changed after signing', async () => {
    const [h, , s] = (await sign(ec, claims())).split('.');
    const forged = Buffer.from(JSON.stringify(claims({ diskEncryption: true, jailbroken: false, osVersion: '99' }))).toString('base64url');
    await refused(`${h}.${forged}.${s}`, 'invalid_signature');
  });

  test('bad signature: an algorithm the key does not use', async () => {
    await refused(await sign(ed, claims({ iss: 'dev-ec' }), {}, 'EdDSA'), 'invalid_signature');
  });

  test('unknown device', async () => {
    const err = await refused(await sign(ec, claims({ iss: 'dev-nobody' })), 'unknown_device');
    expect(err.status).toBe(404);
  });

  test('posted for another device than its iss', async () => {
    await refused(await sign(ec, claims()), 'invalid_report', { deviceId: 'dev-ed' });
  });

  test('future-dated beyond the 60 s skew; within it is fine', async () => {
    await refused(await sign(ec, claims({ iat: NOW_S + 61 })), 'report_from_future');
    await expect(verifyPostureReport(await sign(ec, claims({ iat: NOW_S + 59 })), options())).resolves.toBeTruthy();
  });

  test('older than the freshness window', async () => {
    await refused(await sign(ec, claims({ iat: NOW_S - 3601 })), 'stale_report');
  });

  test('replayed: not newer than the last accepted report', async () => {
    await refused(await sign(ec, claims({ iss: 'dev-seen', iat: NOW_S - 10 })), 'replayed_report');
    await refused(await sign(ec, claims({ iss: 'dev-seen', iat: NOW_S - 20 })), 'replayed_report');
    await expect(verifyPostureReport(await sign(ec, claims({ iss: 'dev-seen', iat: NOW_S - 9 })), options())).resolves.toBeTruthy();
  });

  test.each<[string, Record<string, unknown>]>([
    ['missing jti', { jti: undefined }],
    ['missing iat', { iat: undefined }],
    ['missing firewall', { firewall: undefined }],
    ['missing os', { os: undefined }],
    ['a string for a boolean', { jailbroken: 'no' }],
    ['another audience', { aud: 'https://elsewhere.test' }],
  ])('missing or wrong claims: %s', async (_name, change) => {
    const err = await refused(await sign(ec, claims(change)), 'invalid_report');
    expect(err.status).toBe(400);
  });

  test('header must say typ posture+jwt', async () => {
    await refused(await sign(ec, claims(), { typ: 'JWT' }), 'invalid_report');
  });

  test('not a JWS at all', async () => {
    await refused('hello', 'invalid_report');
    await refused('a.b.c', 'invalid_report');
  });
});

describe('MDM reports and report time', () => {
  const device: ReportDevice = { id: 'dev-ec', publicJwk: {} as JWK, lastReportAt: NOW - 60_000 };
  const o = { now: NOW, freshnessSeconds: 3600, maxClockSkewSeconds: 60 };

  test('plain JSON fields, dated now unless reportedAt says otherwise', () => {
    expect(parseMdmReport(FIELDS, device, o)).toEqual({ deviceId: 'dev-ec', reportedAt: NOW, fields: FIELDS });
    expect(parseMdmReport({ ...FIELDS, reportedAt: '2026-06-01T11:59:30Z' }, device, o).reportedAt).toBe(NOW - 30_000);
  });

  test('refused: missing fields, older than the last report, future, stale', () => {
    expect(() => parseMdmReport({ ...FIELDS, edrRunning: undefined }, device, o)).toThrow(/edrRunning/);
    expect(() => parseMdmReport({ ...FIELDS, reportedAt: '2026-06-01T11:58:00Z' }, device, o)).toThrow(/not newer/);
    expect(() => checkReportTime(NOW + 61_000, {}, o)).toThrow(/in the future/);
    expect(() => checkReportTime(NOW - 3601_000, {}, o)).toThrow(/freshness/);
  });
});
