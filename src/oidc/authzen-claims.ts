/**
 * Client metadata `vigil_authzen_claims`: claims Vigil adds to a person's ID and access tokens
 * from an AuthZEN decision point's resource search at token issuance (docs/authzen.md,
 * "Vigil as the IdP"). Set by an operator (CLI, admin API), never by dynamic registration: it
 * makes Vigil call out.
 */
import { z } from 'zod';

const LOOPBACK = new Set(['localhost', '127.0.0.1', '[::1]']);
/** Claims Vigil itself puts in tokens: a decision point's answer may not replace them. */
const RESERVED_CLAIMS = new Set([
  'iss', 'sub', 'aud', 'exp', 'iat', 'nbf', 'jti', 'nonce', 'acr', 'amr', 'auth_time', 'azp', 'sid', 'at_hash', 'c_hash', 's_hash',
  'scope', 'client_id', 'cnf', 'roles', 'email', 'email_verified', 'name', 'vgl_ref',
]);

const pdpUrl = z.string().max(2048).refine((s) => {
  const url = URL.parse(s);
  return url !== null && !url.hash && !url.search && !url.username && !url.password
    && (url.protocol === 'https:' || (url.protocol === 'http:' && LOOPBACK.has(url.hostname)));
}, 'must be "self" or the https URL that identifies the decision point (http only on localhost), without query, credentials or fragment');

const word = z.string().min(1).max(200);

export const AUTHZEN_SUBJECT_IDS = ['account_id', 'email', 'email_local_part'] as const;
export const AUTHZEN_FAILURE_MODES = ['deny', 'omit'] as const;

export const authzenClaimSpecSchema = z.strictObject({
  /** `self`: Vigil's own decision point (in-process); else the decision point's identifier (its metadata is discovered). */
  pdp: z.union([z.literal('self'), pdpUrl]),
  action: word,
  resource_type: word,
  claim: z.string().regex(/^[A-Za-z_][A-Za-z0-9_.:-]{0,63}$/, 'must be a claim name (letters, digits, _ . : -, at most 64 characters)')
    .refine((c) => !RESERVED_CLAIMS.has(c), 'is a claim Vigil sets itself'),
  /** What the person is called in the search's subject ({ type: "user", id }). */
  subject_id: z.enum(AUTHZEN_SUBJECT_IDS).default('email'),
  timeout_ms: z.number().int().min(50, 'must be at least 50').max(10_000, 'must be at most 10000').default(500),
  /** deny: no token when the decision point does not answer in time (fail closed); omit: the token without the claim (fail open). */
  on_failure: z.enum(AUTHZEN_FAILURE_MODES, { message: 'must be "deny" (fail closed) or "omit" (fail open)' }),
});
export type AuthzenClaimSpec = z.infer<typeof authzenClaimSpecSchema>;

export const authzenClaimSpecsSchema = z.array(authzenClaimSpecSchema).max(10, 'at most 10 claims')
  .refine((specs) => new Set(specs.map((s) => s.claim)).size === specs.length, 'each claim may be named once');

/** A client's specs (metadata already validated at registration), or none. */
export function authzenClaimSpecs(metadata: Record<string, unknown>): AuthzenClaimSpec[] {
  const parsed = authzenClaimSpecsSchema.safeParse(metadata.vigil_authzen_claims ?? []);
  return parsed.success ? parsed.data : [];
}
