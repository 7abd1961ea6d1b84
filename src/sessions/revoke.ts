import type { AdapterFactory } from '../store/index.ts';

/** Every oidc-provider model that can belong to a grant. */
const GRANT_BOUND_MODELS = ['AccessToken', 'AuthorizationCode', 'RefreshToken', 'DeviceCode', 'BackchannelAuthenticationRequest'];

/** Revokes a grant and every token issued under it, in whichever store each lives. */
export async function revokeGrant(adapters: AdapterFactory, grantId: string): Promise<void> {
  await Promise.all([
    ...GRANT_BOUND_MODELS.map((model) => adapters.for(model).revokeByGrantId(grantId)),
    adapters.for('Grant').destroy(grantId),
  ]);
}
