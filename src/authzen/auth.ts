/**
 * Who may ask the decision point: a resource server's client with its own client_credentials
 * token for the built-in resource server `${ISSUER}/access/v1` carrying the `authzen:evaluate`
 * scope, checked against the token stores on every call. People's tokens are refused.
 */
import type Provider from 'oidc-provider';
import type { Context } from 'koa';
import type { Config } from '../config/index.ts';
import type { AccountStore } from '../identity/index.ts';
import type { ResourceServerStore } from '../oidc/index.ts';
import { authenticateClient } from '../http/index.ts';

export const AUTHZEN_SCOPE = 'authzen:evaluate';
/** Nominal owner of the built-in resource server (no client has this id). */
export const AUTHZEN_RESOURCE_OWNER = 'vigil-authzen';

export const authzenResource = (config: Pick<Config, 'ISSUER'>) => `${config.ISSUER}/access/v1`;

export async function ensureAuthzenResourceServer(resourceServers: ResourceServerStore, config: Pick<Config, 'ISSUER'>): Promise<void> {
  await resourceServers.ensure({ identifier: authzenResource(config), clientId: AUTHZEN_RESOURCE_OWNER, scopes: [AUTHZEN_SCOPE], tokenFormat: 'opaque' });
}

export interface AuthzenAuthDeps {
  config: Pick<Config, 'ISSUER'>;
  provider: () => Provider;
  accounts: AccountStore;
}

/** The calling client's id, or a BearerError (401 no or bad token, 403 a person's token or no scope). */
export function authenticateCaller(ctx: Context, deps: AuthzenAuthDeps): Promise<string> {
  return authenticateClient(ctx, {
    provider: deps.provider, accounts: deps.accounts, resource: authzenResource(deps.config), apiName: 'the AuthZEN decision point',
    scope: AUTHZEN_SCOPE, clientsOnly: 'the decision point answers resource servers: use a client_credentials token',
  });
}
