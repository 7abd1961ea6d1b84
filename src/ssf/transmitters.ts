/**
 * The transmitters Vigil trusts as a Shared Signals receiver (`VIGIL_SSF_TRANSMITTERS`): read and
 * validated at start (a bad file stops start-up naming the setting, the file and the problem) and
 * again on SIGHUP with the other policy files.
 */
import { z } from 'zod';
import { readSettingFile } from '../config/index.ts';
import { EVENTS_RECEIVED } from './events.ts';
import { httpsUrl } from './https-url.ts';

/** Public keys only: a private or symmetric key in this file is a mistake worth stopping for. */
const publicJwk = z.looseObject({ kty: z.enum(['RSA', 'EC', 'OKP']), kid: z.string().max(256).optional() })
  .refine((k) => !('d' in k) && !('p' in k) && !('k' in k), 'must be a public key (no private members)');

const transmitterSchema = z.strictObject({
  issuer: z.string().min(1).max(2048),
  jwks_uri: httpsUrl().optional(),
  jwks: z.strictObject({ keys: z.array(publicJwk).min(1).max(50) }).optional(),
  /** What the SETs sent to Vigil carry as `aud` (Vigil's issuer when unset). */
  audience: z.string().min(1).max(2048).optional(),
  /** The event types applied from this transmitter (all Vigil applies when unset); others are refused with access_denied. */
  events: z.array(z.enum(EVENTS_RECEIVED as [string, ...string[]])).optional(),
  /** The exact Authorization header value its pushes must carry (RFC 8935 §2: authentication_failed otherwise). */
  authorization_header: z.string().min(1).max(4096).optional(),
  max_age_seconds: z.number().int().min(10).max(7 * 86400).optional(),
}).refine((t) => (t.jwks_uri === undefined) !== (t.jwks === undefined), 'needs exactly one of jwks_uri and jwks');

const fileSchema = z.strictObject({ transmitters: z.array(transmitterSchema).max(100) })
  .refine((f) => new Set(f.transmitters.map((t) => t.issuer)).size === f.transmitters.length, 'an issuer is listed twice');

export interface TrustedTransmitter {
  issuer: string;
  jwksUri?: string;
  jwks?: { keys: Record<string, unknown>[] };
  audience: string;
  /** Undefined: every event type Vigil applies. */
  events?: readonly string[];
  authorizationHeader?: string;
  maxAgeSeconds: number;
}

/** Reads the file named by VIGIL_SSF_TRANSMITTERS; none configured when `path` is undefined. */
export function loadTransmitters(path: string | undefined, defaults: { issuer: string; maxAgeSeconds: number }): TrustedTransmitter[] {
  if (path === undefined) return [];
  const { json, fail } = readSettingFile('VIGIL_SSF_TRANSMITTERS', path);
  const result = fileSchema.safeParse(json);
  if (!result.success) {
    throw fail(result.error.issues.map((i) => `${i.path.map(String).join('.') || '(file)'}: ${i.message}`).join('; '));
  }
  return result.data.transmitters.map((t) => ({
    issuer: t.issuer,
    ...(t.jwks_uri ? { jwksUri: t.jwks_uri } : {}),
    ...(t.jwks ? { jwks: t.jwks } : {}),
    audience: t.audience ?? defaults.issuer,
    ...(t.events ? { events: t.events } : {}),
    ...(t.authorization_header ? { authorizationHeader: t.authorization_header } : {}),
    maxAgeSeconds: t.max_age_seconds ?? defaults.maxAgeSeconds,
  }));
}
