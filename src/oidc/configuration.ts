import Provider, { errors, type Configuration, type KoaContextWithOIDC, type ClientMetadata } from 'oidc-provider';
import type { JWK } from 'jose';
import { ACR_VALUES, type Config } from '../config/index.ts';
import type { AccountStore } from '../identity/index.ts';
import type { AdapterFactory } from '../store/index.ts';
import type { KeyRing } from '../crypto/index.ts';
import type { ResourceServerStore } from './resource-servers.ts';

export interface ProviderDeps {
  config: Config;
  accounts: AccountStore;
  adapters: AdapterFactory;
  keys: KeyRing;
  resourceServers: ResourceServerStore;
  jwks: JWK[];
  renderError: NonNullable<Configuration['renderError']>;
  logoutSource: NonNullable<NonNullable<Configuration['features']>['rpInitiatedLogout']>['logoutSource'];
  postLogoutSuccessSource: NonNullable<NonNullable<Configuration['features']>['rpInitiatedLogout']>['postLogoutSuccessSource'];
  /** The continuous check at refresh; true lets the refresh proceed (the token is rotated). */
  onRefresh?: (ctx: KoaContextWithOIDC) => Promise<void>;
}

/** Client metadata only the CLI/admin may set; dynamic registration may not. */
export const PRIVILEGED_METADATA = ['vigil_introspection'] as const;

const LOOPBACK_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]']);

function checkRedirectUris(metadata: ClientMetadata) {
  if ((metadata.application_type ?? 'web') !== 'web') return;
  for (const uri of [...(metadata.redirect_uris ?? []), ...((metadata.post_logout_redirect_uris as string[] | undefined) ?? [])]) {
    const url = URL.parse(uri);
    if (url?.protocol === 'http:' && !LOOPBACK_HOSTS.has(url.hostname)) {
      throw Object.assign(new errors.InvalidRedirectUri(), { error_description: `${uri}: web clients must use https redirect URIs (http only on localhost)` });
    }
  }
  if (metadata.backchannel_logout_uri) {
    const url = URL.parse(metadata.backchannel_logout_uri as string);
    if (url?.protocol === 'http:' && !LOOPBACK_HOSTS.has(url.hostname)) {
      throw new errors.InvalidClientMetadata('backchannel_logout_uri must use https (http is allowed only on localhost)');
    }
  }
}

/** Cookie signing keys; the Koa app hosting the provider must sign with the same ones. */
export function cookieKeys(keys: KeyRing): string[] {
  return [keys.derive('cookies').toString('base64url')];
}

function outgoingFetch(allowedHosts: Set<string>) {
  return (url: URL | string, options: RequestInit & { dispatcher?: unknown }) => {
    const target = new URL(url);
    // oidc-provider's dispatcher refuses special-use (loopback, private) addresses; an operator may name exceptions.
    if (allowedHosts.has(target.host) || allowedHosts.has(target.hostname)) delete options.dispatcher;
    return globalThis.fetch(target, options as RequestInit);
  };
}

export function buildConfiguration(deps: ProviderDeps): Configuration {
  const { config, accounts, adapters, resourceServers } = deps;
  const allowedHosts = new Set(config.VIGIL_ALLOWED_OUTGOING_HOSTS.map((h) => h.toLowerCase()));

  return {
    adapter: adapters as unknown as Configuration['adapter'],
    clients: [],
    jwks: { keys: deps.jwks as Configuration['jwks'] extends { keys: infer K } | undefined ? K : never },
    cookies: {
      keys: cookieKeys(deps.keys),
      long: { signed: true, httpOnly: true, sameSite: 'lax' },
      short: { signed: true, httpOnly: true, sameSite: 'lax' },
    },
    acrValues: ACR_VALUES,
    claims: {
      acr: null,
      amr: null,
      auth_time: null,
      sid: null,
      iss: null,
      openid: ['sub', 'roles', 'acr', 'amr', 'auth_time'],
      email: ['email', 'email_verified'],
      profile: ['name', 'updated_at'],
    },
    scopes: ['openid', 'offline_access', 'email', 'profile'],
    conformIdTokenClaims: false,
    responseTypes: ['code'],
    clientDefaults: {
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      token_endpoint_auth_method: 'client_secret_basic',
      id_token_signed_response_alg: 'RS256',
      require_auth_time: true,
    },
    pkce: {
      required: (_ctx, client) => client.clientAuthMethod === 'none',
    },
    async findAccount(_ctx, sub) {
      const account = await accounts.findById(sub);
      if (!account || account.disabled) return undefined;
      return {
        accountId: account.id,
        async claims() {
          return {
            sub: account.id,
            email: account.email,
            email_verified: false,
            name: account.displayName || undefined,
            roles: account.roles,
          };
        },
      };
    },
    async extraTokenClaims(_ctx, token) {
      if (!('accountId' in token) || !token.accountId) return undefined;
      const account = await accounts.findById(token.accountId as string);
      return account ? { roles: account.roles } : undefined;
    },
    extraClientMetadata: {
      properties: [...PRIVILEGED_METADATA],
      validator(ctx, key, value, metadata) {
        if (key === 'vigil_introspection') {
          if (value !== undefined && typeof value !== 'boolean') throw new errors.InvalidClientMetadata('vigil_introspection must be a boolean');
          if (value !== undefined && ctx && ['registration', 'client_update'].includes(ctx.oidc?.route ?? '')) {
            throw new errors.InvalidClientMetadata('vigil_introspection cannot be set through dynamic registration');
          }
          checkRedirectUris(metadata);
        }
      },
    },
    ttl: {
      AccessToken: (_ctx, token) => token.resourceServer?.accessTokenTTL ?? config.VIGIL_ACCESS_TOKEN_TTL,
      AuthorizationCode: config.VIGIL_AUTHORIZATION_CODE_TTL,
      ClientCredentials: (_ctx, token) => token.resourceServer?.accessTokenTTL ?? config.VIGIL_CLIENT_CREDENTIALS_TTL,
      IdToken: config.VIGIL_ID_TOKEN_TTL,
      Interaction: config.VIGIL_INTERACTION_TTL,
      RefreshToken: config.VIGIL_REFRESH_TOKEN_TTL,
      Session: config.VIGIL_SESSION_TTL,
      Grant: config.VIGIL_GRANT_TTL,
    },
    issueRefreshToken: async (_ctx, client) => client.grantTypeAllowed('refresh_token'),
    rotateRefreshToken: async (ctx) => {
      await deps.onRefresh?.(ctx);
      return true;
    },
    interactions: {
      url: (_ctx, interaction) => `/interaction/${interaction.uid}`,
    },
    renderError: deps.renderError,
    features: {
      devInteractions: { enabled: false },
      claimsParameter: { enabled: true },
      clientCredentials: { enabled: true },
      introspection: {
        enabled: true,
        async allowedPolicy(_ctx, client) {
          if (client.metadata().vigil_introspection === true) return true;
          return (await resourceServers.findByClient(client.clientId)).length > 0;
        },
      },
      revocation: { enabled: true },
      registration: { enabled: true, initialAccessToken: true, issueRegistrationAccessToken: true },
      registrationManagement: { enabled: true, rotateRegistrationAccessToken: true },
      rpInitiatedLogout: { enabled: true, logoutSource: deps.logoutSource, postLogoutSuccessSource: deps.postLogoutSuccessSource },
      backchannelLogout: { enabled: true },
      resourceIndicators: {
        enabled: true,
        defaultResource: async (_ctx, _client, oneOf) => oneOf,
        useGrantedResource: async () => true,
        async getResourceServerInfo(_ctx, resourceIndicator) {
          const rs = await resourceServers.find(resourceIndicator);
          if (!rs) throw new errors.InvalidTarget(`${resourceIndicator} is not a registered resource server`);
          return {
            scope: rs.scopes.join(' '),
            audience: rs.identifier,
            accessTokenTTL: rs.accessTokenTtl ?? config.VIGIL_ACCESS_TOKEN_TTL,
            accessTokenFormat: rs.tokenFormat,
            ...(rs.tokenFormat === 'jwt' ? { jwt: { sign: { alg: 'RS256' } } } : {}),
          };
        },
      },
    },
    clientBasedCORS(_ctx, origin, client) {
      return (client.redirectUris ?? []).some((uri) => URL.parse(uri)?.origin === origin);
    },
    fetch: outgoingFetch(allowedHosts) as Configuration['fetch'],
  };
}

export function createProvider(deps: ProviderDeps): Provider {
  const provider = new Provider(deps.config.ISSUER, buildConfiguration(deps));
  if (deps.config.TRUST_PROXY.length > 0) provider.proxy = true;
  return provider;
}
