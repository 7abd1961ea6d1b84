/**
 * An upstream OpenID Connect provider, through openid-client: discovery, the code flow with
 * PKCE (S256), state and nonce, and the ID token's checks (signature, issuer, audience, nonce,
 * expiry) — all openid-client's; this module maps its answers and errors to the source interface.
 */
import * as client from 'openid-client';
import { FederationError, type ExternalIdentity, type RedirectSource } from '../source.ts';
import type { ProviderConfig } from '../provider-config.ts';
import type { SourceDeps } from '../kinds.ts';

interface OidcSettings {
  issuer: string;
  client_id: string;
  scopes: string[];
  claims: { email: string; name: string; groups: string };
  authorization_params?: Record<string, string>;
}

interface Kept {
  verifier: string;
  nonce: string;
  state: string;
}

/** Discovery is kept this long; a failed sign-in re-discovers (keys or endpoints may have moved). */
const DISCOVERY_TTL_MS = 60 * 60 * 1000;

export class OidcSource implements RedirectSource {
  readonly kind = 'oidc' as const;
  readonly id: string;
  readonly issuer: string;
  readonly #settings: OidcSettings;
  readonly #deps: SourceDeps;
  #discovered?: { at: number; config: Promise<client.Configuration> };

  constructor(config: ProviderConfig, deps: SourceDeps) {
    this.id = config.id;
    this.#settings = config as unknown as OidcSettings;
    this.issuer = this.#settings.issuer;
    this.#deps = deps;
  }

  async #configuration(): Promise<client.Configuration> {
    if (this.#discovered && Date.now() - this.#discovered.at < DISCOVERY_TTL_MS) return this.#discovered.config;
    const secret = this.#deps.secret('client_secret');
    const issuer = new URL(this.#settings.issuer);
    const customFetch = this.#deps.fetch as unknown as client.CustomFetch;
    const config = client.discovery(issuer, this.#settings.client_id, secret, secret === undefined ? client.None() : client.ClientSecretPost(secret), {
      [client.customFetch]: customFetch,
      timeout: Math.ceil(this.#deps.timeoutMs / 1000),
      ...(issuer.protocol === 'http:' ? { execute: [client.allowInsecureRequests] } : {}),
    }).then((c) => {
      c[client.customFetch] = customFetch;
      c.timeout = Math.ceil(this.#deps.timeoutMs / 1000);
      return c;
    });
    this.#discovered = { at: Date.now(), config };
    config.catch(() => { this.#discovered = undefined; });
    return config;
  }

  async begin(input: { callbackUrl: string; relay: string; loginHint?: string }): Promise<{ redirectTo: string; keep: Record<string, unknown> }> {
    const config = await this.#configuration().catch((err) => { throw asFederationError(err); });
    const verifier = client.randomPKCECodeVerifier();
    const nonce = client.randomNonce();
    const url = client.buildAuthorizationUrl(config, {
      ...this.#settings.authorization_params,
      redirect_uri: input.callbackUrl,
      scope: this.#settings.scopes.join(' '),
      code_challenge: await client.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
      state: input.relay,
      nonce,
      ...(input.loginHint ? { login_hint: input.loginHint } : {}),
    });
    const keep: Kept = { verifier, nonce, state: input.relay };
    return { redirectTo: url.toString(), keep: { ...keep } };
  }

  async complete(input: { callbackUrl: string; params: Record<string, string>; keep: Record<string, unknown> }): Promise<ExternalIdentity> {
    const kept = input.keep as unknown as Kept;
    const config = await this.#configuration().catch((err) => { throw asFederationError(err); });
    const current = new URL(input.callbackUrl);
    for (const [name, value] of Object.entries(input.params)) current.searchParams.set(name, value);
    let claims: Record<string, unknown>;
    try {
      const tokens = await client.authorizationCodeGrant(config, current, {
        pkceCodeVerifier: kept.verifier, expectedState: kept.state, expectedNonce: kept.nonce, idTokenExpected: true,
      });
      claims = tokens.claims() as Record<string, unknown>;
    } catch (err) {
      // Keys or endpoints may have changed upstream: the next sign-in discovers again.
      this.#discovered = undefined;
      throw asFederationError(err);
    }
    return this.#identity(claims);
  }

  #identity(claims: Record<string, unknown>): ExternalIdentity {
    const mapping = this.#settings.claims;
    const text = (value: unknown) => (typeof value === 'string' && value.length > 0 && value.length <= 1024 ? value : undefined);
    const groupsClaim = claims[mapping.groups];
    const groups = Array.isArray(groupsClaim) ? groupsClaim.filter((g): g is string => typeof g === 'string').slice(0, 500)
      : typeof groupsClaim === 'string' ? [groupsClaim] : [];
    const amr = Array.isArray(claims.amr) ? claims.amr.filter((m): m is string => typeof m === 'string') : undefined;
    const email = text(claims[mapping.email]);
    const name = text(claims[mapping.name]);
    const acr = text(claims.acr);
    const sid = text(claims.sid);
    return {
      provider: this.id,
      subject: String(claims.sub),
      ...(email ? { email } : {}),
      emailVerified: claims.email_verified === true,
      ...(name ? { name } : {}),
      groups,
      ...(acr ? { acr } : {}),
      ...(amr ? { amr } : {}),
      ...(sid ? { upstreamSession: sid } : {}),
    };
  }

  async check(): Promise<string> {
    this.#discovered = undefined;
    const config = await this.#configuration().catch((err) => { throw asFederationError(err); });
    const meta = config.serverMetadata();
    return `issuer ${meta.issuer}: authorization ${meta.authorization_endpoint}, token ${meta.token_endpoint}, keys ${meta.jwks_uri}`
      + `${meta.code_challenge_methods_supported?.includes('S256') ? ', PKCE S256' : ''}`;
  }
}

const CLAIM_CODES: Record<string, string> = { aud: 'wrong_audience', nonce: 'wrong_nonce', iss: 'wrong_issuer', azp: 'wrong_audience', exp: 'expired', iat: 'expired' };

/** openid-client's errors, as reasons safe for a page and the log (never a token). */
export function asFederationError(err: unknown): FederationError {
  if (err instanceof FederationError) return err;
  const e = err as Error & { code?: string; cause?: { claim?: string } | Error; error?: string; error_description?: string };
  if (err instanceof client.AuthorizationResponseError) {
    return new FederationError('upstream_error', `the provider refused the sign-in: ${e.error}${e.error_description ? ` (${e.error_description.slice(0, 200)})` : ''}`);
  }
  if (err instanceof client.ResponseBodyError) return new FederationError('upstream_error', `the provider's token endpoint answered ${e.error}`);
  // openid-client wraps oauth4webapi's error (whose message and cause name the claim) in its own.
  const inner = e.cause instanceof Error ? e.cause as Error & { cause?: { claim?: string } } : undefined;
  const detail = inner?.message ?? e.message;
  switch (e.code) {
    case 'OAUTH_JWT_CLAIM_COMPARISON_FAILED': {
      const claim = inner?.cause?.claim ?? /"(\w+)"/.exec(detail)?.[1] ?? '';
      return new FederationError(CLAIM_CODES[claim] ?? 'invalid_id_token', `the ID token's ${claim || 'claims'} did not match what was expected`);
    }
    case 'OAUTH_JWT_TIMESTAMP_CHECK_FAILED':
      return new FederationError('expired', 'the ID token has expired or is not yet valid');
    case 'OAUTH_JSON_ATTRIBUTE_COMPARISON_FAILED':
      return new FederationError('wrong_issuer', 'the provider\'s discovery document names another issuer');
    case 'OAUTH_INVALID_RESPONSE':
    case 'OAUTH_KEY_SELECTION_FAILED':
    case 'OAUTH_PARSE_ERROR':
    case 'OAUTH_RESPONSE_IS_NOT_CONFORM':
    case 'OAUTH_RESPONSE_IS_NOT_JSON':
    case 'OAUTH_INVALID_SERVER_METADATA':
    case 'OAUTH_MISSING_SERVER_METADATA': {
      const signature = /signature/i.test(detail);
      return new FederationError(signature ? 'invalid_signature' : 'invalid_response', `the provider's response was refused: ${detail.slice(0, 200)}`);
    }
    default:
      break;
  }
  // A network failure comes wrapped ("something went wrong"): the innermost cause says what happened.
  let root: Error = e;
  while (root.cause instanceof Error) root = root.cause;
  if (root.name === 'OutgoingRefused') return new FederationError('unreachable', root.message, true);
  if (e instanceof TypeError || root instanceof TypeError || ['AbortError', 'TimeoutError'].includes(root.name) || /ECONNREFUSED|ENOTFOUND|ETIMEDOUT|ECONNRESET|EAI_AGAIN/.test(root.message)) {
    return new FederationError('unreachable', `the provider could not be reached: ${root.message.slice(0, 200)}`, true);
  }
  if (e.code === 'OAUTH_INVALID_REQUEST' || e.code?.startsWith('OAUTH_')) return new FederationError('invalid_response', e.message.slice(0, 200));
  return new FederationError('unreachable', `the provider could not be reached: ${root.message.slice(0, 200)}`, true);
}
