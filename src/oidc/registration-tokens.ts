import type Provider from 'oidc-provider';

export const REGISTRATION_TOKEN_LIFETIME = { default: 86_400, max: 365 * 86_400 } as const;

/** An initial access token for dynamic client registration (RFC 7591), valid for `expiresIn` seconds; shown once. */
export async function createRegistrationToken(provider: Provider, expiresIn: number): Promise<{ token: string; expiresAt: Date }> {
  const token = await new provider.InitialAccessToken({ expiresIn }).save();
  return { token, expiresAt: new Date(Date.now() + expiresIn * 1000) };
}
