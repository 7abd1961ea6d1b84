/**
 * Bearer access tokens for the devices API (RFC 6750), issued by Vigil itself for the built-in
 * resource server `${ISSUER}/devices` and checked in-process against the token stores.
 */
import type Provider from 'oidc-provider';
import type { Config } from '../config/index.ts';
import type { AccountStore } from '../identity/index.ts';
import type { ResourceServerStore } from '../oidc/index.ts';
import { BearerError, bearerToken, verifyAccessToken } from '../http/bearer.ts';

export { BearerError, bearerToken };

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

export interface TokenCheckDeps {
  config: Pick<Config, 'ISSUER'>;
  provider: () => Provider;
  accounts: AccountStore;
}

/**
 * The caller behind a bearer token: an unexpired access token (person) or client-credentials
 * token (client) issued for the devices resource, whose grant, account or client still exists.
 */
export async function authenticateToken(value: string, deps: TokenCheckDeps): Promise<Caller> {
  const holder = await verifyAccessToken(value, { provider: deps.provider, accounts: deps.accounts, resource: devicesResource(deps.config), apiName: 'the devices API' });
  return holder.kind === 'person'
    ? { kind: 'person', accountId: holder.account.id, clientId: holder.clientId, scopes: holder.scopes }
    : holder;
}

/** 403 insufficient_scope unless the caller holds `scope`. */
export function requireScope(caller: Caller, scope: string): void {
  if (!caller.scopes.has(scope)) throw new BearerError(403, 'insufficient_scope', `this request needs the "${scope}" scope`, scope);
}
