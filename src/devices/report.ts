/**
 * Device keys and posture reports: validation of a registered public key, and verification of a
 * report signed by it (compact JWS, `typ: posture+jwt`). Pure apart from the device look-up the
 * caller passes in; time is passed in too.
 */
import { ApiError } from '../http/api-error.ts';
import { calculateJwkThumbprint, compactVerify, decodeJwt, decodeProtectedHeader, importJWK, type JWK } from 'jose';
import { z } from 'zod';
import { postureFieldsSchema, type PostureFields } from './policy.ts';

export type ReportErrorCode =
  | 'invalid_report' | 'unknown_device' | 'invalid_signature' | 'report_from_future' | 'stale_report' | 'replayed_report';

/** A report refused; nothing is stored. `status` is the HTTP status to answer with. */
export class PostureReportError extends ApiError {
  override name = 'PostureReportError';
  declare readonly code: ReportErrorCode;

  constructor(code: ReportErrorCode, message: string) {
    super(code === 'unknown_device' ? 404 : code === 'replayed_report' ? 409 : 400, code, message);
  }
}

export class DeviceKeyError extends Error {
  override name = 'DeviceKeyError';
}

/** A device's public key as stored: only the public members. */
export interface DevicePublicKey {
  jwk: JWK;
  /** RFC 7638 SHA-256 thumbprint, base64url. */
  jkt: string;
  /** The JWS algorithms a report signed by this key may use. */
  algorithms: string[];
}

const algorithmsFor = (jwk: JWK) => (jwk.kty === 'EC' ? ['ES256'] : ['EdDSA', 'Ed25519']);

/** Accepts an EC P-256 or Ed25519 public JWK (no private part); returns its public members and thumbprint. */
export async function validateDeviceKey(value: unknown): Promise<DevicePublicKey> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new DeviceKeyError('jwk must be a JSON Web Key object');
  const input = value as Record<string, unknown>;
  if ('d' in input) throw new DeviceKeyError('jwk must be a public key: it contains a private part ("d"); never send a device\'s private key');
  let jwk: JWK;
  if (input.kty === 'EC' && input.crv === 'P-256' && typeof input.x === 'string' && typeof input.y === 'string') {
    jwk = { kty: 'EC', crv: 'P-256', x: input.x, y: input.y };
  } else if (input.kty === 'OKP' && input.crv === 'Ed25519' && typeof input.x === 'string') {
    jwk = { kty: 'OKP', crv: 'Ed25519', x: input.x };
  } else {
    throw new DeviceKeyError('jwk must be an EC P-256 key (kty "EC", crv "P-256", x, y) or an Ed25519 key (kty "OKP", crv "Ed25519", x)');
  }
  try {
    await importJWK(jwk, algorithmsFor(jwk)[0]);
  } catch (err) {
    throw new DeviceKeyError(`jwk is not a valid public key: ${(err as Error).message}`);
  }
  return { jwk, jkt: await calculateJwkThumbprint(jwk, 'sha256'), algorithms: algorithmsFor(jwk) };
}

/** What the verifier needs to know about a device. */
export interface ReportDevice {
  id: string;
  publicJwk: JWK;
  /** Epoch ms of the last accepted report: a new one must be strictly newer. */
  lastReportAt?: number;
}

export interface ReportCheckOptions {
  /** Vigil's issuer: the report's `aud`. */
  issuer: string;
  /** Epoch ms. */
  now: number;
  freshnessSeconds: number;
  maxClockSkewSeconds: number;
  findDevice(id: string): Promise<ReportDevice | undefined>;
  /** The device the report is posted for (the URL's id): the report must be issued by it. */
  deviceId?: string;
}

export interface VerifiedReport {
  deviceId: string;
  /** Epoch ms (`iat` × 1000). */
  reportedAt: number;
  jti?: string;
  fields: PostureFields;
}

const claimsSchema = z.object({
  iss: z.string().min(1).max(200),
  aud: z.union([z.string(), z.array(z.string())]),
  iat: z.number().int().nonnegative(),
  jti: z.string().min(1).max(200),
});

function describeIssues(error: z.ZodError): string {
  return error.issues.map((i) => `${i.path.map(String).join('.') || '(report)'}: ${i.message}`).join('; ');
}

/** Checks a report's time against the clock, the freshness window and the last accepted report. */
export function checkReportTime(reportedAt: number, device: Pick<ReportDevice, 'lastReportAt'>, o: Pick<ReportCheckOptions, 'now' | 'freshnessSeconds' | 'maxClockSkewSeconds'>): void {
  if (reportedAt > o.now + o.maxClockSkewSeconds * 1000) {
    throw new PostureReportError('report_from_future', `the report is dated ${new Date(reportedAt).toISOString()}, more than ${o.maxClockSkewSeconds} s in the future`);
  }
  if (reportedAt < o.now - o.freshnessSeconds * 1000) {
    throw new PostureReportError('stale_report', `the report is dated ${new Date(reportedAt).toISOString()}, older than the ${o.freshnessSeconds} s freshness window`);
  }
  if (device.lastReportAt !== undefined && reportedAt <= device.lastReportAt) {
    throw new PostureReportError('replayed_report', 'the report is not newer than the last accepted report of this device (replayed or out of order)');
  }
}

/**
 * Verifies a device-signed report: header (`typ: posture+jwt`, an algorithm of the device's key),
 * the device (`iss`), the signature, `aud`, the time (`iat`) and the posture fields. Throws
 * `PostureReportError` on the first problem.
 */
export async function verifyPostureReport(jws: string, o: ReportCheckOptions): Promise<VerifiedReport> {
  if (typeof jws !== 'string' || jws.length > 8192 || jws.split('.').length !== 3) {
    throw new PostureReportError('invalid_report', 'report must be a compact JWS (three base64url parts separated by dots)');
  }
  let header: ReturnType<typeof decodeProtectedHeader>;
  let unverified: ReturnType<typeof decodeJwt>;
  try {
    header = decodeProtectedHeader(jws);
    unverified = decodeJwt(jws);
  } catch {
    throw new PostureReportError('invalid_report', 'report is not a readable JWS with a JSON payload');
  }
  const typ = String(header.typ ?? '').toLowerCase();
  if (typ !== 'posture+jwt' && typ !== 'application/posture+jwt') throw new PostureReportError('invalid_report', 'report header must have typ "posture+jwt"');
  if (typeof unverified.iss !== 'string' || unverified.iss === '') throw new PostureReportError('invalid_report', 'report must name its device in "iss"');
  if (o.deviceId !== undefined && unverified.iss !== o.deviceId) throw new PostureReportError('invalid_report', 'report "iss" is not the device it is posted for');
  const device = await o.findDevice(unverified.iss);
  if (!device) throw new PostureReportError('unknown_device', 'no registered device has this id');
  const algorithms = algorithmsFor(device.publicJwk);
  if (typeof header.alg !== 'string' || !algorithms.includes(header.alg)) {
    throw new PostureReportError('invalid_signature', `report must be signed with the device key (${algorithms.join(' or ')})`);
  }
  let payload: Uint8Array;
  try {
    const key = await importJWK(device.publicJwk, header.alg);
    ({ payload } = await compactVerify(jws, key, { algorithms }));
  } catch {
    throw new PostureReportError('invalid_signature', 'the report signature does not verify with the device key');
  }
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder().decode(payload));
  } catch {
    throw new PostureReportError('invalid_report', 'report payload is not JSON');
  }
  const claims = claimsSchema.safeParse(json);
  if (!claims.success) throw new PostureReportError('invalid_report', `report claims are missing or wrong: ${describeIssues(claims.error)}`);
  if (![claims.data.aud].flat().includes(o.issuer)) throw new PostureReportError('invalid_report', `report "aud" must be ${o.issuer}`);
  const fields = postureFieldsSchema.safeParse(json);
  if (!fields.success) throw new PostureReportError('invalid_report', `report posture fields are missing or wrong: ${describeIssues(fields.error)}`);
  const reportedAt = claims.data.iat * 1000;
  checkReportTime(reportedAt, device, o);
  return { deviceId: device.id, reportedAt, jti: claims.data.jti, fields: fields.data };
}

/** An MDM client's report: plain JSON posture fields, with an optional `reportedAt` (ISO 8601). */
export const mdmReportSchema = postureFieldsSchema.extend({
  reportedAt: z.iso.datetime({ offset: true }).optional(),
});

export function parseMdmReport(value: unknown, device: ReportDevice, o: Pick<ReportCheckOptions, 'now' | 'freshnessSeconds' | 'maxClockSkewSeconds'>): VerifiedReport {
  const parsed = mdmReportSchema.safeParse(value);
  if (!parsed.success) throw new PostureReportError('invalid_report', `report posture fields are missing or wrong: ${describeIssues(parsed.error)}`);
  const { reportedAt: at, ...fields } = parsed.data;
  const reportedAt = at === undefined ? o.now : Date.parse(at);
  checkReportTime(reportedAt, device, o);
  return { deviceId: device.id, reportedAt, fields };
}
