/**
 * Who may manage an event stream: a relying party with its own client_credentials token for the
 * built-in resource server `${ISSUER}/ssf` (scope `ssf:stream`), checked in-process on every call.
 */
import type Provider from 'oidc-provider';
import type { Config } from '../config/index.ts';
import type { AccountStore } from '../identity/index.ts';
import type { ResourceServerStore } from '../oidc/index.ts';
import { authenticateClient } from '../http/bearer.ts';

export const SSF_SCOPE = 'ssf:stream';
/** Nominal owner of the built-in resource server (no client has this id). */
export const SSF_RESOURCE_OWNER = 'vigil-ssf';

export const ssfResource = (config: Pick<Config, 'ISSUER'>) => `${config.ISSUER}/ssf`;

export async function ensureSsfResourceServer(resourceServers: ResourceServerStore, config: Pick<Config, 'ISSUER'>): Promise<void> {
  await resourceServers.ensure({ identifier: ssfResource(config), clientId: SSF_RESOURCE_OWNER, scopes: [SSF_SCOPE], tokenFormat: 'opaque' });
}

export interface SsfAuthDeps {
  config: Pick<Config, 'ISSUER'>;
  provider: () => Provider;
  accounts: AccountStore;
}

/** The client id behind the request's bearer token (a client's own token with `ssf:stream`). */
export function authenticateReceiver(ctx: Parameters<typeof authenticateClient>[0], deps: SsfAuthDeps): Promise<string> {
  return authenticateClient(ctx, {
    provider: deps.provider, accounts: deps.accounts, resource: ssfResource(deps.config), apiName: 'the stream management API',
    scope: SSF_SCOPE, clientsOnly: 'a stream belongs to a client: use a client_credentials token',
  });
}
