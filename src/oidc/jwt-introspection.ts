/**
 * Introspection (RFC 7662) of the JWT access tokens Vigil issues (RFC 9068). oidc-provider refuses
 * every structured token with `unsupported_token_type`: JWT access tokens are not stored, so it has
 * nothing to look up. Vigil signs into each one a sealed reference to its grant and session
 * (`vigil_ref`), so that once the signature verifies the answer comes from the same state as an
 * opaque token's: the grant (revoked or expired), the session (for tokens that end with it), the
 * account (disabled) and the step-ups owed.
 */
import introspection from 'oidc-provider/lib/actions/introspection.js';
import type Provider from 'oidc-provider';
import type { Client, KoaContextWithOIDC } from 'oidc-provider';
import { createLocalJWKSet, decodeProtectedHeader, jwtVerify, type JWK, type JWTPayload } from 'jose';
import type { KeyRing } from '../crypto/index.ts';
import type { Account } from '../identity/index.ts';
import { unpaidStepUps, type SessionRequirement } from './acr-policy.ts';

/** The private claim carrying the sealed reference. */
export const TOKEN_REFERENCE_CLAIM = 'vigil_ref';

interface TokenReference {
  /** grant id */
  g: string;
  /** session uid */
  s?: string;
  /** expires with the session */
  w?: boolean;
}

/** What a JWT access token refers to, sealed (and bound to the token's jti): no internal id is readable by its bearer. */
export function sealTokenReference(keys: KeyRing, jti: string, token: { grantId?: string; sessionUid?: string; expiresWithSession?: boolean }): string | undefined {
  if (!token.grantId) return undefined;
  const reference: TokenReference = { g: token.grantId, ...(token.sessionUid ? { s: token.sessionUid } : {}), ...(token.expiresWithSession ? { w: true } : {}) };
  return keys.seal(JSON.stringify(reference), `${TOKEN_REFERENCE_CLAIM}:${jti}`);
}

function openTokenReference(keys: KeyRing, jti: string, sealed: unknown): TokenReference | undefined {
  if (typeof sealed !== 'string') return undefined;
  try {
    const reference = JSON.parse(keys.open(sealed, `${TOKEN_REFERENCE_CLAIM}:${jti}`)) as TokenReference;
    return typeof reference.g === 'string' ? reference : undefined;
  } catch {
    return undefined;
  }
}

/** Whether a token of this account, from an authentication at `acr` and `authTime`, still stands: the account is enabled and owes no step-up that authentication did not pay. */
export async function accountStillStands(
  account: Account | undefined, sessionUid: string | undefined, acr: unknown, authTime: unknown, sessionRequirement: SessionRequirement,
): Promise<boolean> {
  if (!account || account.disabled) return false;
  const owed = await sessionRequirement(sessionUid, account.id);
  return unpaidStepUps(typeof acr === 'string' ? acr : undefined, typeof authTime === 'number' ? authTime : undefined, owed).length === 0;
}

export interface JwtIntrospectionDeps {
  issuer: string;
  keys: KeyRing;
  /** The provider's keys (private members are dropped here). */
  jwks: JWK[];
  accountFor: (id: string) => Promise<Account | undefined>;
  sessionRequirement: SessionRequirement;
  /** Whether this client may learn about a token with these audiences (RFC 7662 §4). */
  mayIntrospect: (client: Client, audiences: string[]) => Promise<boolean>;
}

const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'k', 'key_ops'] as const;

export class JwtIntrospection {
  readonly #deps: JwtIntrospectionDeps;
  readonly #verificationKeys: ReturnType<typeof createLocalJWKSet>;

  constructor(deps: JwtIntrospectionDeps) {
    this.#deps = deps;
    const keys = deps.jwks.map((jwk) => {
      const publicJwk: Record<string, unknown> = { ...jwk };
      for (const member of PRIVATE_MEMBERS) delete publicJwk[member];
      return publicJwk as JWK;
    });
    this.#verificationKeys = createLocalJWKSet({ keys });
  }

  /** The RFC 7662 answer for a JWT given to the introspection endpoint by an authenticated client. */
  async answer(ctx: KoaContextWithOIDC, token: string): Promise<Record<string, unknown>> {
    const inactive = { active: false };
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, this.#verificationKeys, { issuer: this.#deps.issuer, typ: 'at+jwt', algorithms: ['RS256', 'ES256'] }));
    } catch {
      return inactive;
    }
    const { sub, jti, aud } = payload;
    const clientId = payload.client_id;
    if (typeof sub !== 'string' || typeof jti !== 'string' || typeof clientId !== 'string') return inactive;
    if (!(await this.#deps.mayIntrospect(ctx.oidc.client!, [aud ?? []].flat()))) return inactive;
    const { provider } = ctx.oidc;
    // A client disabled or deleted: its tokens are no longer good, like its opaque ones.
    if (!(await provider.Client.find(clientId))) return inactive;
    const reference = openTokenReference(this.#deps.keys, jti, payload[TOKEN_REFERENCE_CLAIM]);
    if (!reference) {
      // A client_credentials token names the client itself; any other token must refer to its grant.
      if (sub !== clientId || payload[TOKEN_REFERENCE_CLAIM] !== undefined) return inactive;
    } else {
      const grant = await provider.Grant.find(reference.g, { ignoreExpiration: true });
      if (!grant || grant.isExpired || grant.clientId !== clientId || grant.accountId !== sub) return inactive;
      if (reference.w && !(reference.s && await provider.Session.findByUid(reference.s))) return inactive;
      if (!(await accountStillStands(await this.#deps.accountFor(sub), reference.s, payload.acr, payload.auth_time, this.#deps.sessionRequirement))) return inactive;
    }
    const { [TOKEN_REFERENCE_CLAIM]: _reference, ...claims } = payload;
    return { ...claims, active: true, token_type: 'Bearer' };
  }
}

const introspectors = new WeakMap<Provider, JwtIntrospection>();

/** Answers the provider's introspection of Vigil's own JWT access tokens with this introspector. */
export function introspectJwtsWith(provider: Provider, introspector: JwtIntrospection): void {
  introspectors.set(provider, introspector);
}

function isJws(token: unknown): token is string {
  if (typeof token !== 'string') return false;
  try {
    return !!decodeProtectedHeader(token);
  } catch {
    return false;
  }
}

type Middleware = (ctx: KoaContextWithOIDC, next: () => Promise<void>) => Promise<void>;

/**
 * In oidc-provider's introspection action, its refusal of structured tokens (after the client has
 * authenticated) is replaced: a JWT is answered here, anything else goes on as before. The action
 * is read when a provider is built, so this runs once, before the first one.
 */
function replaceStructuredTokenRefusal(): void {
  const steps = introspection as unknown as Middleware[];
  const at = steps.findIndex((step) => step.name === 'rejectStructuredTokens' || step.name === 'introspectOwnJwts');
  if (at < 0) throw new Error('oidc-provider\'s introspection action has changed: its structured-token refusal was not found');
  steps[at] = async function introspectOwnJwts(ctx, next) {
    const token = ctx.oidc.params?.token;
    if (!isJws(token)) return next();
    const introspector = introspectors.get(ctx.oidc.provider);
    ctx.body = introspector ? await introspector.answer(ctx, token) : { active: false };
  };
}

replaceStructuredTokenRefusal();
