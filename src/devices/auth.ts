/**
 * Bearer access tokens for the devices API (RFC 6750), issued by Vigil itself for the built-in
 * resource server `${ISSUER}/devices` and checked in-process against the token stores.
 */
import type { Context } from 'koa';
import type Provider from 'oidc-provider';
import type { Config } from '../config/index.ts';
import type { AccountStore } from '../identity/index.ts';
import type { ResourceServerStore } from '../oidc/index.ts';

/** A person managing their own devices. */
export const DEVICES_SCOPE = 'devices';
/** An MDM client (client_credentials) managing any device. */
export const DEVICES_MANAGE_SCOPE = 'devices:manage';
/** Nominal owner of the built-in resource server (no client has this id). */
export const DEVICES_RESOURCE_OWNER = 'vigil-devices';

export const devicesResource = (config: Pick<Config, 'ISSUER'>) => `${config.ISSUER}/devices`;

/** Registers (or updates) the devices API as a resource server with opaque access tokens. */
export async function ensureDevicesResourceServer(resourceServers: ResourceServerStore, config: Pick<Config, 'ISSUER'>): Promise<void> {
  await resourceServers.ensure({
    identifier: devicesResource(config),
    clientId: DEVICES_RESOURCE_OWNER,
    scopes: [DEVICES_SCOPE, DEVICES_MANAGE_SCOPE],
    tokenFormat: 'opaque',
  });
}

export type Caller =
  | { kind: 'person'; accountId: string; clientId: string; scopes: Set<string> }
  | { kind: 'client'; clientId: string; scopes: Set<string> };

/** An RFC 6750 error: 401 invalid_token / invalid_request, 403 insufficient_scope. */
export class BearerError extends Error {
  override name = 'BearerError';
  readonly status: number;
  readonly error: 'invalid_token' | 'invalid_request' | 'insufficient_scope' | undefined;
  readonly scope: string | undefined;

  constructor(status: number, error: BearerError['error'], message: string, scope?: string) {
    super(message);
    this.status = status;
    this.error = error;
    this.scope = scope;
  }

  /** The WWW-Authenticate challenge (no error code when no token was sent, RFC 6750 §3.1). */
  challenge(realm: string): string {
    const q = (s: string) => s.replace(/["\\]/g, '');
    const parts = [`realm="${q(realm)}"`];
    if (this.error) parts.push(`error="${this.error}"`, `error_description="${q(this.message)}"`);
    if (this.scope) parts.push(`scope="${q(this.scope)}"`);
    return `Bearer ${parts.join(', ')}`;
  }
}

const B64TOKEN = /^[A-Za-z0-9\-._~+/]+=*$/;

export interface TokenCheckDeps {
  config: Pick<Config, 'ISSUER'>;
  provider: () => Provider;
  accounts: AccountStore;
}

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

/**
 * The caller behind a bearer token: an unexpired access token (person) or client-credentials
 * token (client) issued for the devices resource, whose grant, account or client still exists.
 */
export async function authenticateToken(value: string, deps: TokenCheckDeps): Promise<Caller> {
  const invalid = (why: string) => new BearerError(401, 'invalid_token', why);
  const provider = deps.provider();
  const resource = devicesResource(deps.config);
  // Tokens for this API are opaque; a JWT is another resource's token.
  if (value.includes('.')) throw invalid('this access token was not issued for the devices API');
  const access = await provider.AccessToken.find(value);
  const token = access ?? await provider.ClientCredentials.find(value);
  if (!token || token.isExpired) throw invalid('the access token is invalid, expired or revoked');
  if (token.isSenderConstrained()) throw invalid('sender-constrained tokens are not accepted here');
  const audiences = [(token as { aud?: string | string[] }).aud].flat().filter(Boolean);
  if (!audiences.includes(resource)) throw invalid('this access token was not issued for the devices API');
  const scopes = new Set(String(token.scope ?? '').split(' ').filter(Boolean));
  const clientId = token.clientId!;
  if (access) {
    const accountId = access.accountId;
    if (!accountId || !access.grantId) throw invalid('the access token has no subject');
    const grant = await provider.Grant.find(access.grantId);
    if (!grant || grant.clientId !== clientId || grant.accountId !== accountId) throw invalid('the access token was revoked');
    const account = await deps.accounts.findById(accountId);
    if (!account || account.disabled) throw invalid('the account is disabled');
    return { kind: 'person', accountId, clientId, scopes };
  }
  const client = await provider.Client.find(clientId);
  if (!client) throw invalid('the client no longer exists');
  return { kind: 'client', clientId, scopes };
}

/** 403 insufficient_scope unless the caller holds `scope`. */
export function requireScope(caller: Caller, scope: string): void {
  if (!caller.scopes.has(scope)) throw new BearerError(403, 'insufficient_scope', `this request needs the "${scope}" scope`, scope);
}
