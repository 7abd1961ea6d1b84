import type { ClientMetadata } from 'oidc-provider';
import type { Config } from '../config/index.ts';
import type { AdapterFactory } from '../store/index.ts';

export const ACCOUNT_CLIENT_ID = 'vigil-account';

export function accountUrls(config: Config) {
  return {
    callback: `${config.ISSUER}/account/callback`,
    signedOut: `${config.ISSUER}/account/signed-out`,
  };
}

/**
 * The account page is a first-party client of Vigil itself: it signs people in through the
 * same authorization endpoint (so second factors, step-up and max_age apply to it too).
 */
export async function ensureAccountClient(adapters: AdapterFactory, config: Config): Promise<void> {
  const urls = accountUrls(config);
  const metadata: ClientMetadata = {
    client_id: ACCOUNT_CLIENT_ID,
    client_name: 'Your Vigil account',
    application_type: 'web',
    grant_types: ['authorization_code'],
    response_types: ['code'],
    redirect_uris: [urls.callback],
    post_logout_redirect_uris: [urls.signedOut],
    token_endpoint_auth_method: 'none',
    vigil_first_party: true,
  };
  await adapters.for('Client').upsert(ACCOUNT_CLIENT_ID, metadata as Record<string, unknown>);
}
