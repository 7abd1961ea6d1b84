import type { ClientMetadata } from 'oidc-provider';
import type { Config } from '../config/index.ts';
import type { AdapterFactory } from '../store/index.ts';

/** One of Vigil's own browser apps, a client of Vigil itself. */
export interface FirstPartyApp {
  clientId: string;
  /** The client's name, shown on Vigil's pages. */
  clientName: string;
  /** Where the app lives, e.g. `/account`; its callback and cookies are under it. */
  path: string;
  /** The catalogue key of how pages name the app ("Open {app} again"), e.g. `apps.account`. */
  label: string;
  /** The level every sign-in to the app must reach (the client's `default_acr_values`). */
  acr?: string;
}

export function firstPartyUrls(config: Config, app: FirstPartyApp) {
  return {
    callback: `${config.ISSUER}${app.path}/callback`,
    signedOut: `${config.ISSUER}${app.path}/signed-out`,
  };
}

/**
 * Registers (or brings up to date) the app's client: it signs people in through the same
 * authorization endpoint as any relying party, so second factors, step-up and max_age apply to it too.
 */
export async function ensureFirstPartyClient(adapters: AdapterFactory, config: Config, app: FirstPartyApp): Promise<void> {
  const urls = firstPartyUrls(config, app);
  const metadata: ClientMetadata = {
    client_id: app.clientId,
    client_name: app.clientName,
    application_type: 'web',
    grant_types: ['authorization_code'],
    response_types: ['code'],
    redirect_uris: [urls.callback],
    post_logout_redirect_uris: [urls.signedOut],
    token_endpoint_auth_method: 'none',
    vigil_first_party: true,
    ...(app.acr ? { default_acr_values: [app.acr] } : {}),
  };
  await adapters.for('Client').upsert(app.clientId, metadata as Record<string, unknown>);
}
