import type Provider from 'oidc-provider';
import type { Config } from '../config/index.ts';
import type { ClientSettingsDeps, ResourceServerStore } from '../oidc/index.ts';
import type { AdapterFactory } from '../store/index.ts';
import { scimResource } from '../scim/index.ts';
import { adminResource } from './auth.ts';

/** What checking and storing client settings needs, for the CLI and the admin service alike. */
export function clientSettingsDeps(
  core: { config: Pick<Config, 'ISSUER'>; adapters: AdapterFactory; resourceServers: ResourceServerStore }, provider: Provider,
): ClientSettingsDeps {
  return {
    clients: core.adapters.for('Client'),
    resourceServers: core.resourceServers,
    validate: (metadata) => provider.Client.validate(metadata),
    // The admin API's and provisioning's scopes are never granted by default.
    namedScopesOnly: [adminResource(core.config), scimResource(core.config)],
  };
}
