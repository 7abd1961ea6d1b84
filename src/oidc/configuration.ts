import Provider, { errors, type Client, type Configuration, type KoaContextWithOIDC, type ClientMetadata } from 'oidc-provider';
import type { JWK } from 'jose';
import { ACR_VALUES, type Config } from '../config/index.ts';
import type { Account, AccountStore } from '../identity/index.ts';
import type { AdapterFactory } from '../store/index.ts';
import type { KeyRing } from '../crypto/index.ts';
import type { ResourceServerStore } from './resource-servers.ts';
import { checkRefreshPaysStepUp, interactionPolicyWithAcrLevels, type SessionRequirement, type SingleSignOnCheck } from './acr-policy.ts';
import { clientMetadata } from './client-metadata.ts';
import { newClientId } from './client-settings.ts';
import { authzenClaimSpecsSchema } from './authzen-claims.ts';
import { firstIssue } from '../http/zod-issue.ts';
import { accountStillStands, JwtIntrospection, introspectJwtsWith, sealTokenReference, TOKEN_REFERENCE_CLAIM } from './jwt-introspection.ts';

export interface ProviderDeps {
  config: Config;
  /** The account store, or a cache in front of it (the token path reads an account per request). */
  accounts: Pick<AccountStore, 'findById'>;
  adapters: AdapterFactory;
  keys: KeyRing;
  resourceServers: ResourceServerStore;
  jwks: JWK[];
  renderError: NonNullable<Configuration['renderError']>;
  logoutSource: NonNullable<NonNullable<Configuration['features']>['rpInitiatedLogout']>['logoutSource'];
  postLogoutSuccessSource: NonNullable<NonNullable<Configuration['features']>['rpInitiatedLogout']>['postLogoutSuccessSource'];
  /** The step-ups a session and its person owe. */
  sessionRequirement: SessionRequirement;
  /** The risk check of a sign-in by an existing session (single sign-on); none when the engine is off. */
  singleSignOn?: SingleSignOnCheck;
  /**
   * The checks at refresh, replacing the default one (the step-up the session owes, one read):
   * throws to refuse; otherwise the token is rotated. The risk engine does both checks on one read.
   */
  onRefresh?: (ctx: KoaContextWithOIDC) => Promise<void>;
  /** A check at refresh before those (engine on or off): the directory a federated session came from. Throws to refuse. */
  beforeRefresh?: (ctx: KoaContextWithOIDC) => Promise<void>;
  /**
   * Resources a person's token may be asked for only by clients registered as admin tools
   * (`vigil_admin_tool`): the admin API. A consent screen alone is not enough to hand a phished
   * administrator's powers to any app.
   */
  adminToolResources?: readonly string[];
  /**
   * Claims the client's `vigil_authzen_claims` add to a person's tokens (an AuthZEN resource search
   * at issuance), once per token request: throws an OAuth error to refuse the tokens (fail closed).
   */
  authzenClaims?: (ctx: KoaContextWithOIDC, accountId: string) => Promise<Record<string, unknown>>;
  /** The access policy: what a token may carry, decided at the code exchange and at every refresh. */
  accessPolicy?: AccessPolicyHook;
  /**
   * The roles a token carries for the account signed in with `acr`: its standing roles and its
   * elevations in force (computed at every issuance and refresh); the standing roles when unset.
   */
  rolesOf?: (account: Account, acr: string | undefined) => Promise<string[]>;
}

/** What the token endpoint asks the access policy (verification/'s AccessPolicyCheck answers). */
export interface AccessPolicyHook {
  /** The scopes (of `scopes`) and roles the token may carry; throws `invalid_grant` to refuse the request. */
  check(ctx: KoaContextWithOIDC, grantType: 'authorization_code' | 'refresh_token', source: AccessPolicySource, account: Account, scopes: readonly string[]):
    Promise<{ scopes: readonly string[]; roles: readonly string[] } | undefined>;
  /** The answer already given for this request. */
  verdictOf(ctx: KoaContextWithOIDC): { roles: readonly string[] } | undefined;
}

export interface AccessPolicySource {
  accountId: string;
  acr?: string | undefined;
  amr?: string[] | undefined;
  grantId?: string | undefined;
}

/** Client metadata only the CLI/admin may set; dynamic registration may not. */
export const PRIVILEGED_METADATA = [
  'vigil_introspection', 'vigil_allowed_resources', 'vigil_allowed_scopes', 'vigil_first_party', 'vigil_forwards_end_user', 'vigil_disabled', 'vigil_admin_tool',
  'vigil_authzen_claims',
] as const;

const fromRegistration = (ctx: KoaContextWithOIDC | undefined) => ['registration', 'client_update'].includes(ctx?.oidc?.route ?? '');

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

const OIDC_SCOPES = ['openid', 'offline_access', 'email', 'profile'];

/**
 * A client_credentials token carries every scope asked for, or none is issued: oidc-provider would
 * drop the others silently, down to a token with no scope at all (RFC 6749 §3.3, §5.2 invalid_scope).
 */
function checkClientCredentialsScope(ctx: KoaContextWithOIDC, grantable: readonly string[], target: string) {
  const refused = String(ctx.oidc.params?.scope ?? '').split(' ').filter((s) => s && !grantable.includes(s));
  if (refused.length) throw new errors.InvalidScope(`this client may not obtain ${refused.join(' ')} ${target}`, refused.join(' '));
}

function outgoingFetch(allowedHosts: Set<string>) {
  return (url: URL | string, options: RequestInit & { dispatcher?: unknown }) => {
    const target = new URL(url);
    // oidc-provider's dispatcher refuses special-use (loopback, private) addresses; an operator may name exceptions.
    if (allowedHosts.has(target.host) || allowedHosts.has(target.hostname)) delete options.dispatcher;
    return globalThis.fetch(target, options as RequestInit);
  };
}

/** RFC 7662 §4: clients given the introspection permission learn about any token; a resource server only about those issued for it. */
function introspectionPermission(resourceServers: ResourceServerStore) {
  return async (client: Client, audiences: readonly (string | undefined)[]): Promise<boolean> => {
    if (clientMetadata(client).vigil_introspection === true) return true;
    // The (cached) lookup by audience keeps introspection off the database on its hot path.
    for (const audience of audiences) {
      if (audience && (await resourceServers.find(audience))?.clientId === client.clientId) return true;
    }
    return false;
  };
}

/**
 * The access policy at a refresh: the access token (and ID token) carry only the scopes it allows now. The
 * refresh token keeps what was consented, so a later refresh whose context satisfies the policy again gets them.
 */
async function narrowRefresh(ctx: KoaContextWithOIDC, policy: AccessPolicyHook, accountFor: (id: string, acr: string | undefined) => Promise<Account | undefined>) {
  const token = ctx.oidc.entities.RefreshToken!;
  const account = await accountFor(token.accountId, token.acr);
  if (!account) return;
  const asked = ctx.oidc.params?.scope ? [...ctx.oidc.requestParamScopes] : [...token.scopes];
  const verdict = await policy.check(ctx, 'refresh_token', token as AccessPolicySource, account, asked);
  if (verdict && verdict.scopes.length < asked.length) ctx.oidc.params!.scope = verdict.scopes.join(' ');
}

/**
 * At userinfo: the roles the presented access token was given (what the access policy allowed at its
 * issuance), or undefined elsewhere.
 */
function rolesOfAccessToken(ctx: KoaContextWithOIDC | undefined): string[] | undefined {
  if (ctx?.oidc?.route !== 'userinfo') return undefined;
  const roles = (ctx.oidc.entities.AccessToken as { extra?: { roles?: unknown } } | undefined)?.extra?.roles;
  return Array.isArray(roles) ? roles.filter((role): role is string => typeof role === 'string') : undefined;
}

/** The acr of the sign-in behind the token being issued (a code, a refresh token, or the access token at userinfo). */
function authenticationAcr(ctx: KoaContextWithOIDC | undefined): string | undefined {
  const entities = ctx?.oidc?.entities;
  const acr = entities?.AuthorizationCode?.acr ?? entities?.RefreshToken?.acr ?? (entities?.AccessToken as { extra?: { acr?: unknown } } | undefined)?.extra?.acr;
  return typeof acr === 'string' ? acr : undefined;
}

export function buildConfiguration(deps: ProviderDeps): Configuration {
  const { config, accounts, adapters, resourceServers } = deps;
  const mayIntrospect = introspectionPermission(resourceServers);
  const allowedHosts = new Set(config.VIGIL_ALLOWED_OUTGOING_HOSTS.map((h) => h.toLowerCase()));
  // findAccount and extraTokenClaims both need the account on the token path: `accounts` may be a short-lived cache.
  const accountFor = (id: string) => accounts.findById(id);
  const rolesOf = deps.rolesOf ?? (async (account: Account) => account.roles);
  // The access policy decides on the roles the person holds now: standing and elevated.
  const withRolesNow = async (account: Account, acr: string | undefined): Promise<Account> => (deps.rolesOf ? { ...account, roles: await deps.rolesOf(account, acr) } : account);
  const accountNow = async (id: string, acr: string | undefined) => {
    const account = await accountFor(id);
    return account && withRolesNow(account, acr);
  };

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
      profile: ['name'],
    },
    scopes: OIDC_SCOPES,
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
    async findAccount(ctx, sub, token) {
      const account = await accountFor(sub);
      if (!account || account.disabled) return undefined;
      // A code exchange: what the tokens may carry is decided before any is made from the code (in memory only).
      if (deps.accessPolicy && token?.kind === 'AuthorizationCode' && ctx?.oidc?.route === 'token') {
        const code = token as InstanceType<Provider['AuthorizationCode']>;
        const verdict = await deps.accessPolicy.check(ctx, 'authorization_code', code as AccessPolicySource, await withRolesNow(account, code.acr), [...code.scopes]);
        if (verdict) code.scope = verdict.scopes.join(' ');
      }
      // Userinfo never tells more roles than the access token carries, nor any the person no longer holds.
      const rolesClaim = async () => {
        const now = deps.accessPolicy?.verdictOf(ctx)?.roles ?? await rolesOf(account, authenticationAcr(ctx));
        const granted = rolesOfAccessToken(ctx);
        return granted ? now.filter((role) => granted.includes(role)) : now;
      };
      return {
        accountId: account.id,
        async claims() {
          return {
            sub: account.id,
            email: account.email,
            email_verified: account.emailVerified,
            name: account.displayName || undefined,
            roles: await rolesClaim(),
          };
        },
      };
    },
    async extraTokenClaims(ctx, token) {
      if (!('accountId' in token) || !token.accountId) return undefined;
      const account = await accountFor(token.accountId as string);
      if (!account) return undefined;
      // RFC 9068 §2.2.1: how the person authenticated, so a resource server (the admin API) can demand a level.
      const entities = ctx?.oidc?.entities;
      const authentication = entities?.AuthorizationCode ?? entities?.RefreshToken;
      const acr = authentication?.acr;
      const authTime = authentication?.authTime;
      // auth_time too (RFC 9068 §2.2.1): introspection checks it against the step-ups owed since.
      const roles = (ctx && deps.accessPolicy?.verdictOf(ctx)?.roles) ?? await rolesOf(account, acr);
      const decided = deps.authzenClaims && ctx ? await deps.authzenClaims(ctx, account.id) : {};
      return { ...decided, roles, ...(acr ? { acr } : {}), ...(typeof authTime === 'number' ? { auth_time: authTime } : {}) };
    },
    extraClientMetadata: {
      properties: [...PRIVILEGED_METADATA],
      validator(ctx, key, value, metadata) {
        if (value !== undefined && fromRegistration(ctx)) {
          throw new errors.InvalidClientMetadata(`${key} cannot be set through dynamic registration`);
        }
        if (key === 'vigil_introspection') {
          if (value !== undefined && typeof value !== 'boolean') throw new errors.InvalidClientMetadata('vigil_introspection must be a boolean');
          checkRedirectUris(metadata);
        }
        if ((key === 'vigil_first_party' || key === 'vigil_forwards_end_user' || key === 'vigil_disabled') && value !== undefined && typeof value !== 'boolean') throw new errors.InvalidClientMetadata(`${key} must be a boolean`);
        if (key === 'vigil_authzen_claims' && value !== undefined) {
          const parsed = authzenClaimSpecsSchema.safeParse(value);
          if (!parsed.success) throw new errors.InvalidClientMetadata(`vigil_authzen_claims: ${firstIssue(parsed.error)}`);
          if (!config.VIGIL_AUTHZEN_POLICY && parsed.data.some((spec) => spec.pdp === 'self')) {
            throw new errors.InvalidClientMetadata('vigil_authzen_claims: pdp "self" needs Vigil\'s own decision point (VIGIL_AUTHZEN_POLICY is not set)');
          }
        }
        if ((key === 'vigil_allowed_resources' || key === 'vigil_allowed_scopes') && value !== undefined && !(Array.isArray(value) && value.every((v) => typeof v === 'string'))) {
          throw new errors.InvalidClientMetadata(`${key} must be an array of strings`);
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
      if (deps.beforeRefresh) await deps.beforeRefresh(ctx);
      if (deps.onRefresh) {
        await deps.onRefresh(ctx);
      } else {
        const token = ctx.oidc.entities.RefreshToken!;
        checkRefreshPaysStepUp(token, await deps.sessionRequirement(token.sessionUid, token.accountId));
      }
      if (deps.accessPolicy) await narrowRefresh(ctx, deps.accessPolicy, accountNow);
      return true;
    },
    interactions: {
      url: (_ctx, interaction) => `/interaction/${interaction.uid}`,
      policy: interactionPolicyWithAcrLevels(deps.sessionRequirement, deps.singleSignOn),
    },
    // Vigil's own apps (the account page) are trusted: no consent screen for what they ask.
    async loadExistingGrant(ctx) {
      const grantId = ctx.oidc.result?.consent?.grantId || ctx.oidc.session!.grantIdFor(ctx.oidc.client!.clientId);
      if (grantId) return ctx.oidc.provider.Grant.find(grantId);
      if (clientMetadata(ctx.oidc.client!).vigil_first_party !== true) return undefined;
      const grant = new ctx.oidc.provider.Grant({ clientId: ctx.oidc.client!.clientId, accountId: ctx.oidc.session!.accountId! });
      grant.addOIDCScope(ctx.oidc.requestParamScopes ? [...ctx.oidc.requestParamScopes].join(' ') : 'openid');
      await grant.save();
      return grant;
    },
    renderError: deps.renderError,
    features: {
      devInteractions: { enabled: false },
      claimsParameter: { enabled: true },
      clientCredentials: { enabled: true },
      introspection: {
        enabled: true,
        // Any token for clients given the introspection permission; a resource server only the
        // access tokens issued for it (RFC 7662 §4: do not tell a caller about others' tokens).
        // A person's access token answers as a JWT one does: inactive once the account is disabled
        // or owes a step-up its authentication did not pay (a refresh token is refused at /token instead).
        async allowedPolicy(_ctx, client, token) {
          if (!(await mayIntrospect(client, [(token as { aud?: string | string[] }).aud].flat()))) return false;
          if (token.kind !== 'AccessToken' || !token.accountId) return true;
          const extra = (token as { extra?: Record<string, unknown> }).extra;
          return accountStillStands(await accountFor(token.accountId), (token as { sessionUid?: string }).sessionUid, extra?.acr, extra?.auth_time, deps.sessionRequirement);
        },
      },
      revocation: { enabled: true },
      registration: { enabled: true, initialAccessToken: true, issueRegistrationAccessToken: true, idFactory: newClientId },
      registrationManagement: { enabled: true, rotateRegistrationAccessToken: true },
      rpInitiatedLogout: { enabled: true, logoutSource: deps.logoutSource, postLogoutSuccessSource: deps.postLogoutSuccessSource },
      backchannelLogout: { enabled: true },
      resourceIndicators: {
        enabled: true,
        async defaultResource(ctx, _client, oneOf) {
          if (!oneOf && ctx.oidc.params?.grant_type === 'client_credentials') checkClientCredentialsScope(ctx, OIDC_SCOPES, 'without a resource parameter');
          return oneOf;
        },
        useGrantedResource: async () => true,
        async getResourceServerInfo(ctx, resourceIndicator, client) {
          const rs = await resourceServers.find(resourceIndicator);
          if (!rs) throw new errors.InvalidTarget(`${resourceIndicator} is not a registered resource server`);
          // No person consents to a client_credentials grant: the client must be allowed the resource explicitly.
          let scopes = rs.scopes;
          if (ctx.oidc.params?.grant_type === 'client_credentials') {
            const allowed = clientMetadata(client).vigil_allowed_resources as string[] | undefined;
            if (!allowed?.includes(resourceIndicator)) throw new errors.InvalidTarget(`this client is not allowed to obtain tokens for ${resourceIndicator}`);
            // Without a list the client may have every scope of the resources it is allowed.
            const allowedScopes = clientMetadata(client).vigil_allowed_scopes as string[] | undefined;
            if (allowedScopes) scopes = scopes.filter((s) => allowedScopes.includes(s));
            checkClientCredentialsScope(ctx, scopes, `for ${resourceIndicator}`);
          } else if (deps.adminToolResources?.includes(resourceIndicator) && clientMetadata(client).vigil_admin_tool !== true) {
            throw new errors.InvalidTarget(`this client is not registered as an admin tool and cannot ask for ${resourceIndicator}`);
          }
          return {
            scope: scopes.join(' '),
            audience: rs.identifier,
            accessTokenTTL: rs.accessTokenTtl ?? config.VIGIL_ACCESS_TOKEN_TTL,
            accessTokenFormat: rs.tokenFormat,
            ...(rs.tokenFormat === 'jwt' ? { jwt: { sign: { alg: 'RS256' } } } : {}),
          };
        },
      },
    },
    formats: {
      customizers: {
        // What introspection needs to answer for a JWT access token, sealed into it (see jwt-introspection.ts).
        async jwt(_ctx, token, jwt) {
          const reference = sealTokenReference(deps.keys, String(jwt.payload.jti), token as { grantId?: string; sessionUid?: string; expiresWithSession?: boolean });
          if (reference) jwt.payload[TOKEN_REFERENCE_CLAIM] = reference;
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
  introspectJwtsWith(provider, new JwtIntrospection({
    issuer: deps.config.ISSUER, keys: deps.keys, jwks: deps.jwks, accountFor: (id) => deps.accounts.findById(id),
    sessionRequirement: deps.sessionRequirement, mayIntrospect: introspectionPermission(deps.resourceServers),
  }));
  // It reads the host and protocol from the forwarded headers, which the Koa app pins to the issuer's.
  provider.proxy = true;
  // Every ID token names its session (`sid`), not only those of clients with back-channel logout:
  // a Shared Signals receiver matches a CAEP session-revoked to the session it signed in with.
  (provider.Client.prototype as unknown as { includeSid: () => boolean }).includeSid = () => true;
  if (deps.authzenClaims) withAuthzenIdTokenClaims(provider, deps.authzenClaims);
  return provider;
}

interface IssuableIdToken {
  ctx?: KoaContextWithOIDC;
  available: Record<string, unknown>;
  set(key: string, value: unknown): void;
  issue(options: { use: string }): Promise<string>;
}

/**
 * The ID token carries the AuthZEN claims too. oidc-provider keeps only the claims its `claims`
 * configuration names (per scope) from `findAccount`, and these names are each client's own: they
 * are set on the token directly, as the provider sets `nonce` and `sid`. The answer is the one the
 * access token of the same response got (asked once per request).
 */
function withAuthzenIdTokenClaims(provider: Provider, claimsFor: NonNullable<ProviderDeps['authzenClaims']>) {
  const prototype = (provider.IdToken as unknown as { prototype: IssuableIdToken }).prototype;
  const issue = prototype.issue;
  prototype.issue = async function issueWithAuthzenClaims(this: IssuableIdToken, options) {
    const accountId = this.available.sub;
    if (options?.use === 'idtoken' && this.ctx && typeof accountId === 'string') {
      for (const [key, value] of Object.entries(await claimsFor(this.ctx, accountId))) this.set(key, value);
    }
    return issue.call(this, options);
  };
}
