/**
 * Who may call the SCIM service: a provisioning client's client-credentials token for the built-in
 * resource server `${ISSUER}/scim/v2` with the `scim` scope, checked against the token stores on
 * every call (a revoked token or a disabled client stops at once), or a long-lived provisioning
 * token (`vgs_...`) acting as such a client. People's tokens are refused.
 */
import type Provider from 'oidc-provider';
import type { Config } from '../config/index.ts';
import type { AccountStore } from '../identity/index.ts';
import type { ResourceServerStore } from '../oidc/index.ts';
import { clientMetadata } from '../oidc/index.ts';
import { BearerError, verifyAccessToken } from '../http/bearer.ts';
import { isProvisioningToken, type ProvisioningTokens } from './provisioning-tokens.ts';

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
  provisioningTokens: ProvisioningTokens;
}

/**
 * Why a client may not provision (hold a provisioning token), or undefined when it may: it must be
 * enabled and allowed client-credentials tokens for the SCIM resource with the "scim" scope.
 */
export async function provisioningRefusal(provider: Provider, clientId: string, config: Pick<Config, 'ISSUER'>): Promise<string | undefined> {
  const client = await provider.Client.find(clientId);
  if (!client) return `no enabled client with id ${clientId}`;
  const metadata = clientMetadata(client);
  const resources = metadata.vigil_allowed_resources as string[] | undefined;
  const scopes = metadata.vigil_allowed_scopes as string[] | undefined;
  if (!metadata.grant_types?.includes('client_credentials') || !resources?.includes(scimResource(config)) || (scopes && !scopes.includes(SCIM_SCOPE))) {
    return `client ${clientId} is not a provisioning client: it needs the client_credentials grant, ${scimResource(config)} among its allowed resources and the "${SCIM_SCOPE}" scope`;
  }
  return undefined;
}

/** The provisioning client behind a token, or a BearerError (401 invalid, 403 without the scope or for a person's token). */
export async function authenticateScim(token: string, deps: ScimAuthDeps): Promise<string> {
  if (isProvisioningToken(token)) {
    const clientId = await deps.provisioningTokens.use(token);
    // A disabled or deleted client's tokens, or one no longer allowed SCIM, are as good as revoked.
    if (!clientId || await provisioningRefusal(deps.provider(), clientId, deps.config)) {
      throw new BearerError(401, 'invalid_token', 'the provisioning token is invalid, expired or revoked');
    }
    return clientId;
  }
  const holder = await verifyAccessToken(token, { provider: deps.provider, accounts: deps.accounts, resource: scimResource(deps.config), apiName: 'the SCIM service' });
  if (holder.kind !== 'client' || !holder.scopes.has(SCIM_SCOPE)) {
    throw new BearerError(403, 'insufficient_scope', 'provisioning needs a client-credentials token with the "scim" scope', SCIM_SCOPE);
  }
  return holder.clientId;
}
