/**
 * Who may call the SCIM service: a provisioning client's client-credentials token for the built-in
 * resource server `${ISSUER}/scim/v2` with the `scim` scope, checked against the token stores on
 * every call (a revoked token or a disabled client stops at once). People's tokens are refused.
 */
import type Provider from 'oidc-provider';
import type { Config } from '../config/index.ts';
import type { AccountStore } from '../identity/index.ts';
import type { ResourceServerStore } from '../oidc/index.ts';
import { BearerError, verifyAccessToken } from '../http/bearer.ts';

export const SCIM_SCOPE = 'scim';
/** Nominal owner of the built-in resource server (no client has this id). */
export const SCIM_RESOURCE_OWNER = 'vigil-scim';

export const scimResource = (config: Pick<Config, 'ISSUER'>) => `${config.ISSUER}/scim/v2`;

/** Registers (or updates) the SCIM service as a resource server with opaque access tokens. */
export async function ensureScimResourceServer(resourceServers: ResourceServerStore, config: Pick<Config, 'ISSUER'>): Promise<void> {
  await resourceServers.ensure({ identifier: scimResource(config), clientId: SCIM_RESOURCE_OWNER, scopes: [SCIM_SCOPE], tokenFormat: 'opaque' });
}

export interface ScimAuthDeps {
  config: Pick<Config, 'ISSUER'>;
  provider: () => Provider;
  accounts: AccountStore;
}

/** The provisioning client behind a token, or a BearerError (401 invalid, 403 without the scope or for a person's token). */
export async function authenticateScim(token: string, deps: ScimAuthDeps): Promise<string> {
  const holder = await verifyAccessToken(token, { provider: deps.provider, accounts: deps.accounts, resource: scimResource(deps.config), apiName: 'the SCIM service' });
  if (holder.kind !== 'client' || !holder.scopes.has(SCIM_SCOPE)) {
    throw new BearerError(403, 'insufficient_scope', 'provisioning needs a client-credentials token with the "scim" scope', SCIM_SCOPE);
  }
  return holder.clientId;
}
