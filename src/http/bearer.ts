/**
 * Bearer access tokens (RFC 6750) for Vigil's own resource servers (the devices API, the admin
 * API): read from the Authorization header and checked in-process against the token stores on
 * every request, so a revoked token is refused at once.
 */
import type { Context } from 'koa';
import type Provider from 'oidc-provider';
import type { Account, AccountStore } from '../identity/index.ts';

export type BearerErrorCode = 'invalid_token' | 'invalid_request' | 'insufficient_scope' | 'insufficient_user_authentication';

/** An RFC 6750 error: 401 invalid_token / invalid_request, 403 insufficient_scope; RFC 9470's 401 insufficient_user_authentication. */
export class BearerError extends Error {
  override name = 'BearerError';
  readonly status: number;
  readonly error: BearerErrorCode | undefined;
  readonly scope: string | undefined;
  /** RFC 9470: the authentication context the caller must reach. */
  readonly acrValues: string | undefined;

  constructor(status: number, error: BearerError['error'], message: string, scope?: string, acrValues?: string) {
    super(message);
    this.status = status;
    this.error = error;
    this.scope = scope;
    this.acrValues = acrValues;
  }

  /** The WWW-Authenticate challenge (no error code when no token was sent, RFC 6750 §3.1). */
  challenge(realm: string): string {
    const q = (s: string) => s.replace(/["\\]/g, '');
    const parts = [`realm="${q(realm)}"`];
    if (this.error) parts.push(`error="${this.error}"`, `error_description="${q(this.message)}"`);
    if (this.scope) parts.push(`scope="${q(this.scope)}"`);
    if (this.acrValues) parts.push(`acr_values="${q(this.acrValues)}"`);
    return `Bearer ${parts.join(', ')}`;
  }
}

const B64TOKEN = /^[A-Za-z0-9\-._~+/]+=*$/;

/** The bearer token in the Authorization header, if any; a malformed header is invalid_request. */
export function bearerToken(ctx: Context): string | undefined {
  const header = ctx.get('authorization');
  if (!header) return undefined;
  const match = /^Bearer +(\S+)\s*$/i.exec(header);
  if (!match || match[1].length > 4096 || !B64TOKEN.test(match[1])) {
    throw new BearerError(401, 'invalid_request', 'the Authorization header must be "Bearer <access token>"');
  }
  return match[1];
}

/** Who an access token speaks for. */
export type TokenHolder =
  | { kind: 'person'; account: Account; clientId: string; scopes: Set<string>; claims: Record<string, unknown> }
  | { kind: 'client'; clientId: string; scopes: Set<string> };

export interface TokenCheck {
  provider: () => Provider;
  accounts: AccountStore;
  /** The resource server the token must have been issued for. */
  resource: string;
  /** "the devices API": how refusals name it. */
  apiName: string;
}

/**
 * The holder of an opaque access token (person) or client-credentials token (client) issued for
 * `resource`, unexpired, whose grant and account (enabled), or client, still exist.
 */
export async function verifyAccessToken(value: string, check: TokenCheck): Promise<TokenHolder> {
  const invalid = (why: string) => new BearerError(401, 'invalid_token', why);
  const provider = check.provider();
  // Tokens for these APIs are opaque; a JWT is another resource's token.
  if (value.includes('.')) throw invalid(`this access token was not issued for ${check.apiName}`);
  const access = await provider.AccessToken.find(value);
  const token = access ?? await provider.ClientCredentials.find(value);
  if (!token || token.isExpired) throw invalid('the access token is invalid, expired or revoked');
  if (token.isSenderConstrained()) throw invalid('sender-constrained tokens are not accepted here');
  const audiences = [(token as { aud?: string | string[] }).aud].flat().filter(Boolean);
  if (!audiences.includes(check.resource)) throw invalid(`this access token was not issued for ${check.apiName}`);
  const scopes = new Set(String(token.scope ?? '').split(' ').filter(Boolean));
  const clientId = token.clientId!;
  if (access) {
    const accountId = access.accountId;
    if (!accountId || !access.grantId) throw invalid('the access token has no subject');
    const grant = await provider.Grant.find(access.grantId);
    if (!grant || grant.clientId !== clientId || grant.accountId !== accountId) throw invalid('the access token was revoked');
    const account = await check.accounts.findById(accountId);
    if (!account || account.disabled) throw invalid('the account is disabled');
    // A client disabled since the token was issued holds nothing any more.
    if (!await provider.Client.find(clientId)) throw invalid('the client no longer exists');
    const claims = (access as { extra?: Record<string, unknown> }).extra ?? {};
    return { kind: 'person', account, clientId, scopes, claims };
  }
  const client = await provider.Client.find(clientId);
  if (!client) throw invalid('the client no longer exists');
  return { kind: 'client', clientId, scopes };
}

/** A built-in API answering clients only: which one, and the scope its own client_credentials token must carry. */
export interface ClientApi extends TokenCheck {
  scope: string;
  /** Why a person's token is refused, for the 403. */
  clientsOnly: string;
}

/** The client id behind the request's bearer token, or a BearerError (401 no or bad token, 403 a person's token or no scope). */
export async function authenticateClient(ctx: Context, api: ClientApi): Promise<string> {
  const token = bearerToken(ctx);
  if (token === undefined) throw new BearerError(401, undefined, `an access token for ${api.apiName} is required`);
  const holder = await verifyAccessToken(token, api);
  if (holder.kind !== 'client') throw new BearerError(403, 'insufficient_scope', api.clientsOnly, api.scope);
  if (!holder.scopes.has(api.scope)) throw new BearerError(403, 'insufficient_scope', `this request needs the "${api.scope}" scope`, api.scope);
  return holder.clientId;
}
