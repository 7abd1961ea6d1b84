/**
 * Receiving Security Event Tokens (RFC 8417) pushed by trusted transmitters (RFC 8935): what makes
 * a SET acceptable — its `typ`, a configured `iss`, the transmitter's push credential, a signature
 * by one of its keys, Vigil as `aud`, a recent `iat` — and the store of `jti`s already applied.
 * A refusal carries the RFC 8935 §2.3 error code.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { compactVerify, decodeJwt, decodeProtectedHeader, errors as joseErrors } from 'jose';
import { z } from 'zod';
import { firstIssue } from '../http/zod-issue.ts';
import type { Queryable } from '../store/index.ts';
import type { TransmitterKeys } from './transmitter-keys.ts';
import { TransmitterKeyError } from './transmitter-keys.ts';
import type { TrustedTransmitter } from './transmitters.ts';

export type SetErrorCode = 'invalid_request' | 'invalid_key' | 'invalid_issuer' | 'invalid_audience' | 'authentication_failed' | 'access_denied';

export class SetRejection extends Error {
  override name = 'SetRejection';
  readonly code: SetErrorCode;

  constructor(code: SetErrorCode, description: string) {
    super(description);
    this.code = code;
  }
}

/** The transmitter's keys cannot be had now: not the SET's fault, so the transmitter should retry (503). */
export class SetUnverifiable extends Error {
  override name = 'SetUnverifiable';
}

/** Signature algorithms accepted: asymmetric only (a shared secret would let anyone holding it sign as the transmitter). */
const ALGORITHMS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA', 'Ed25519'];
/** How far in the future a transmitter's clock may put `iat`. */
export const CLOCK_SKEW_SECONDS = 60;
const COMPACT_JWS = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;

const eventClaims = z.record(z.string().min(1).max(512), z.record(z.string(), z.unknown()))
  .refine((e) => Object.keys(e).length > 0 && Object.keys(e).length <= 20, 'events must hold 1 to 20 events');

const claimsSchema = z.object({
  iss: z.string(),
  aud: z.union([z.string(), z.array(z.string()).max(20)]),
  iat: z.number().finite(),
  jti: z.string().min(1).max(256),
  exp: z.number().finite().optional(),
  txn: z.string().max(256).optional(),
  sub_id: z.record(z.string(), z.unknown()).optional(),
  events: eventClaims,
});

export interface ReceivedSet {
  transmitter: TrustedTransmitter;
  jti: string;
  /** Epoch seconds. */
  iat: number;
  txn?: string;
  subject?: Record<string, unknown>;
  events: Record<string, Record<string, unknown>>;
}

/** What can be read of a SET without trusting it (for the audit trail of a refusal): bounded and never more than iss, jti and event types. */
export function peekSet(token: string): { iss?: string; jti?: string; events?: string[] } {
  try {
    const claims = decodeJwt(token);
    const events = claims.events && typeof claims.events === 'object' ? Object.keys(claims.events).slice(0, 10).map((t) => t.slice(0, 200)) : undefined;
    return {
      ...(typeof claims.iss === 'string' ? { iss: claims.iss.slice(0, 200) } : {}),
      ...(typeof claims.jti === 'string' ? { jti: claims.jti.slice(0, 256) } : {}),
      ...(events ? { events } : {}),
    };
  } catch {
    return {};
  }
}

const digest = (s: string) => createHash('sha256').update(s).digest();

export interface SetVerifierDeps {
  transmitters: () => readonly TrustedTransmitter[];
  keys: TransmitterKeys;
  now?: () => number;
}

/** Verifies a pushed SET; throws `SetRejection` (400) or `SetUnverifiable` (503). */
export async function verifySet(token: string, authorization: string | undefined, deps: SetVerifierDeps): Promise<ReceivedSet> {
  if (!COMPACT_JWS.test(token)) throw new SetRejection('invalid_request', 'the body is not a signed JWT in compact serialization');
  let kid: string | undefined;
  let issuer: unknown;
  try {
    const header = decodeProtectedHeader(token);
    if (typeof header.typ !== 'string' || !['secevent+jwt', 'application/secevent+jwt'].includes(header.typ.toLowerCase())) {
      throw new SetRejection('invalid_request', 'the JWT header typ must be secevent+jwt');
    }
    kid = header.kid;
    issuer = decodeJwt(token).iss;
  } catch (err) {
    if (err instanceof SetRejection) throw err;
    throw new SetRejection('invalid_request', 'the SET cannot be decoded as a JWT');
  }
  const transmitter = typeof issuer === 'string' ? deps.transmitters().find((t) => t.issuer === issuer) : undefined;
  if (!transmitter) throw new SetRejection('invalid_issuer', 'the issuer is not a transmitter this receiver trusts');
  if (transmitter.authorizationHeader !== undefined
    && (authorization === undefined || !timingSafeEqual(digest(authorization), digest(transmitter.authorizationHeader)))) {
    throw new SetRejection('authentication_failed', 'the Authorization header is missing or not the one agreed with this transmitter');
  }

  let payload: Uint8Array;
  try {
    ({ payload } = await compactVerify(token, await deps.keys.resolver(transmitter, kid), { algorithms: ALGORITHMS }));
  } catch (err) {
    if (err instanceof TransmitterKeyError) throw new SetUnverifiable(err.message);
    if (err instanceof joseErrors.JOSEAlgNotAllowed) throw new SetRejection('invalid_key', `alg must be one of ${ALGORITHMS.join(', ')}`);
    if (err instanceof joseErrors.JWKSNoMatchingKey || err instanceof joseErrors.JWKSMultipleMatchingKeys) {
      throw new SetRejection('invalid_key', 'no key of the transmitter matches the SET\'s kid and alg');
    }
    if (err instanceof joseErrors.JWSSignatureVerificationFailed) throw new SetRejection('invalid_key', 'the signature does not verify with the transmitter\'s key');
    throw new SetRejection('invalid_request', 'the SET\'s signature cannot be checked');
  }

  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder().decode(payload));
  } catch {
    throw new SetRejection('invalid_request', 'the SET\'s claims are not JSON');
  }
  const parsed = claimsSchema.safeParse(json);
  if (!parsed.success) throw new SetRejection('invalid_request', firstIssue(parsed.error, { root: 'claims', maxLength: 300 }));
  const claims = parsed.data;
  const audiences = Array.isArray(claims.aud) ? claims.aud : [claims.aud];
  if (!audiences.includes(transmitter.audience)) throw new SetRejection('invalid_audience', 'aud does not name this receiver');
  const now = (deps.now ?? Date.now)() / 1000;
  if (claims.iat > now + CLOCK_SKEW_SECONDS) throw new SetRejection('invalid_request', 'iat is in the future');
  if (claims.iat < now - transmitter.maxAgeSeconds) throw new SetRejection('invalid_request', `iat is more than ${transmitter.maxAgeSeconds} s old`);
  if (claims.exp !== undefined && claims.exp < now - CLOCK_SKEW_SECONDS) throw new SetRejection('invalid_request', 'the SET has expired');
  return {
    transmitter, jti: claims.jti, iat: claims.iat, events: claims.events,
    ...(claims.txn ? { txn: claims.txn } : {}),
    ...(claims.sub_id ? { subject: claims.sub_id } : {}),
  };
}

/**
 * The `jti`s of accepted SETs, per transmitter, kept until their `iat` is too old to pass anyway.
 * Claiming is insert-or-fail: of two copies pushed at once, one is applied.
 */
export class ReceivedJtis {
  readonly #db: Queryable;

  constructor(db: Queryable) {
    this.#db = db;
  }

  /** False: this transmitter's `jti` was received already. */
  async claim(issuer: string, jti: string, expiresAt: number): Promise<boolean> {
    const { rowCount } = await this.#db.query(
      'INSERT INTO ssf_received_jtis (issuer, jti, expires_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING',
      [issuer, jti, new Date(expiresAt).toISOString()],
    );
    return rowCount > 0;
  }

  /** Applying the SET failed: its transmitter's retry must not be refused as a replay. */
  async release(issuer: string, jti: string): Promise<void> {
    await this.#db.query('DELETE FROM ssf_received_jtis WHERE issuer = $1 AND jti = $2', [issuer, jti]);
  }

  async purge(now = Date.now()): Promise<void> {
    await this.#db.query('DELETE FROM ssf_received_jtis WHERE expires_at < $1', [new Date(now).toISOString()]);
  }
}
