/**
 * What an operator may set on a client (the CLI's `client create`, the admin API and console
 * alike), turned into oidc-provider client metadata and the client's resource server, checked
 * with one set of rules: the field rules here, then the provider's own schema exactly as it
 * will check the client when it is used. Nothing is stored until everything has passed.
 */
import { randomBytes } from 'node:crypto';
import { randomId } from '../crypto/index.ts';
import type { ClientMetadata } from 'oidc-provider';
import { ACR_VALUES } from '../config/index.ts';
import type { Adapter, Payload } from '../store/index.ts';
import { resourceIdentifierSchema, scopeTokenSchema, type ResourceServer, type ResourceServerStore } from './resource-servers.ts';

export const CLIENT_GRANT_TYPES = ['authorization_code', 'refresh_token', 'client_credentials'] as const;
export const TOKEN_FORMATS = ['jwt', 'opaque'] as const;
export const ACCESS_TOKEN_TTL_RANGE = { min: 300, max: 86_400 } as const;

export interface ResourceServerSettings {
  /** The RFC 8707 identifier; `urn:vigil:rs:<client id>` when not given. Fixed once registered. */
  resource?: string;
  scopes: string[];
  tokenFormat: 'jwt' | 'opaque';
  /** Seconds; the server's default when not given. */
  accessTokenTtl?: number;
}

export interface ClientSettings {
  name: string;
  redirectUris: string[];
  postLogoutRedirectUris?: string[];
  backchannelLogoutUri?: string;
  applicationType: 'web' | 'native';
  /** No secret: the client authenticates with PKCE only. */
  public: boolean;
  grantTypes: string[];
  defaultAcr?: string;
  /** The client is also a resource server (an API that accepts access tokens). */
  resourceServer?: ResourceServerSettings;
  /** Resources a client_credentials client may ask tokens for, and the scopes it may get there. */
  allowedResources?: string[];
  allowedScopes?: string[];
  introspectAny?: boolean;
  forwardEndUser?: boolean;
  adminTool?: boolean;
  /** AuthZEN claims added to a person's tokens (`vigil_authzen_claims`, checked by the provider's metadata rules). */
  authzenClaims?: unknown[];
}

/** A setting that breaks a rule; `field` names it as the admin API does (the CLI maps it to its flag). */
export class ClientSettingsError extends Error {
  override name = 'ClientSettingsError';
  readonly field: keyof ClientSettings | 'metadata';
  readonly problem: string;

  constructor(field: keyof ClientSettings | 'metadata', problem: string) {
    super(field === 'metadata' ? `invalid client: ${problem}` : `${field} ${problem}`);
    this.field = field;
    this.problem = problem;
  }
}

export interface ClientSettingsDeps {
  clients: Pick<Adapter, 'find' | 'upsert'>;
  resourceServers: ResourceServerStore;
  /** The provider's own client schema (`provider.Client.validate`). */
  validate: (metadata: ClientMetadata) => Promise<unknown>;
  /** Resources whose scopes are never granted by default: a client allowed one must name its scopes (the admin API). */
  namedScopesOnly: readonly string[];
}

/** The metadata keys these settings own; on an edit every other key the client has is kept. */
const MANAGED_KEYS = [
  'client_name', 'application_type', 'grant_types', 'response_types', 'redirect_uris', 'post_logout_redirect_uris', 'backchannel_logout_uri',
  'backchannel_logout_session_required', 'default_acr_values', 'vigil_introspection', 'vigil_allowed_resources', 'vigil_allowed_scopes',
  'vigil_forwards_end_user', 'vigil_admin_tool', 'vigil_authzen_claims',
];

/** Settings as an operator gives them: only the name is required; the rest default as `client create` does. */
export function withDefaults(given: Partial<ClientSettings> & { name: string }): ClientSettings {
  const redirectUris = given.redirectUris ?? [];
  return {
    ...given,
    redirectUris,
    applicationType: given.applicationType ?? 'web',
    public: given.public ?? false,
    grantTypes: given.grantTypes ?? (redirectUris.length ? ['authorization_code', 'refresh_token'] : ['client_credentials']),
  };
}

const strings = (v: unknown): string[] | undefined => (Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : undefined);

/** A stored client's settings (what an edit starts from). */
export function settingsOf(metadata: Payload, resourceServer: ResourceServer | undefined): ClientSettings {
  const m = metadata as Record<string, unknown>;
  const acr = strings(m.default_acr_values)?.[0];
  return {
    name: typeof m.client_name === 'string' ? m.client_name : '',
    redirectUris: strings(m.redirect_uris) ?? [],
    ...(strings(m.post_logout_redirect_uris)?.length ? { postLogoutRedirectUris: strings(m.post_logout_redirect_uris) } : {}),
    ...(typeof m.backchannel_logout_uri === 'string' ? { backchannelLogoutUri: m.backchannel_logout_uri } : {}),
    applicationType: m.application_type === 'native' ? 'native' : 'web',
    public: m.token_endpoint_auth_method === 'none',
    grantTypes: strings(m.grant_types) ?? ['authorization_code'],
    ...(acr ? { defaultAcr: acr } : {}),
    ...(resourceServer ? {
      resourceServer: {
        resource: resourceServer.identifier, scopes: resourceServer.scopes, tokenFormat: resourceServer.tokenFormat,
        ...(resourceServer.accessTokenTtl ? { accessTokenTtl: resourceServer.accessTokenTtl } : {}),
      },
    } : {}),
    ...(strings(m.vigil_allowed_resources) ? { allowedResources: strings(m.vigil_allowed_resources) } : {}),
    ...(strings(m.vigil_allowed_scopes) ? { allowedScopes: strings(m.vigil_allowed_scopes) } : {}),
    ...(m.vigil_introspection === true ? { introspectAny: true } : {}),
    ...(m.vigil_forwards_end_user === true ? { forwardEndUser: true } : {}),
    ...(m.vigil_admin_tool === true ? { adminTool: true } : {}),
    ...(Array.isArray(m.vigil_authzen_claims) && m.vigil_authzen_claims.length ? { authzenClaims: m.vigil_authzen_claims } : {}),
  };
}

/** The rules that need no lookup. */
function checkFields(s: ClientSettings): void {
  if (!s.name.trim()) throw new ClientSettingsError('name', 'is required');
  if (s.defaultAcr !== undefined && !(ACR_VALUES as readonly string[]).includes(s.defaultAcr)) throw new ClientSettingsError('defaultAcr', `must be one of ${ACR_VALUES.join(', ')}`);
  if (s.grantTypes.length === 0) throw new ClientSettingsError('grantTypes', 'must name at least one grant type');
  for (const g of s.grantTypes) {
    if (!(CLIENT_GRANT_TYPES as readonly string[]).includes(g)) throw new ClientSettingsError('grantTypes', `${g} is not one of ${CLIENT_GRANT_TYPES.join(', ')}`);
  }
  if (s.grantTypes.includes('authorization_code') && s.redirectUris.length === 0) throw new ClientSettingsError('redirectUris', 'is required for the authorization_code grant');
  if (s.public && s.grantTypes.includes('client_credentials')) throw new ClientSettingsError('public', 'clients cannot use client_credentials');
  if (!['web', 'native'].includes(s.applicationType)) throw new ClientSettingsError('applicationType', 'must be web or native');
  const rs = s.resourceServer;
  if (rs) {
    if (!(TOKEN_FORMATS as readonly string[]).includes(rs.tokenFormat)) throw new ClientSettingsError('resourceServer', 'tokenFormat must be jwt or opaque');
    if (rs.resource !== undefined && !resourceIdentifierSchema.safeParse(rs.resource).success) {
      throw new ClientSettingsError('resourceServer', 'resource must be an absolute https, http or urn URI without a fragment');
    }
    const ttl = rs.accessTokenTtl;
    if (ttl !== undefined && (!Number.isInteger(ttl) || ttl < ACCESS_TOKEN_TTL_RANGE.min || ttl > ACCESS_TOKEN_TTL_RANGE.max)) {
      throw new ClientSettingsError('resourceServer', `accessTokenTtl must be a whole number of seconds from ${ACCESS_TOKEN_TTL_RANGE.min} to ${ACCESS_TOKEN_TTL_RANGE.max}`);
    }
    for (const scope of rs.scopes) if (!scopeTokenSchema.safeParse(scope).success) throw new ClientSettingsError('resourceServer', `scope ${JSON.stringify(scope)} is not a valid scope token`);
  }
  if (s.allowedScopes && !s.allowedResources) throw new ClientSettingsError('allowedScopes', 'goes with allowedResources (the scopes the client may get there)');
  for (const scope of s.allowedScopes ?? []) if (!scopeTokenSchema.safeParse(scope).success) throw new ClientSettingsError('allowedScopes', `${JSON.stringify(scope)} is not a valid scope token`);
  if (s.allowedResources && !s.grantTypes.includes('client_credentials')) throw new ClientSettingsError('allowedResources', 'is for clients with the client_credentials grant');
  if (s.forwardEndUser && (s.public || !s.grantTypes.includes('refresh_token'))) {
    throw new ClientSettingsError('forwardEndUser', 'is for confidential clients that refresh tokens (a public client\'s own address is the person\'s)');
  }
}

function metadataOf(clientId: string, s: ClientSettings): ClientMetadata {
  return {
    client_id: clientId,
    client_name: s.name,
    application_type: s.applicationType,
    grant_types: s.grantTypes,
    response_types: s.grantTypes.includes('authorization_code') ? ['code'] : [],
    redirect_uris: s.redirectUris,
    ...(s.postLogoutRedirectUris?.length ? { post_logout_redirect_uris: s.postLogoutRedirectUris } : {}),
    ...(s.backchannelLogoutUri ? { backchannel_logout_uri: s.backchannelLogoutUri, backchannel_logout_session_required: true } : {}),
    ...(s.defaultAcr ? { default_acr_values: [s.defaultAcr] } : {}),
    ...(s.introspectAny ? { vigil_introspection: true } : {}),
    ...(s.allowedResources ? { vigil_allowed_resources: s.allowedResources } : {}),
    ...(s.allowedScopes ? { vigil_allowed_scopes: s.allowedScopes } : {}),
    ...(s.forwardEndUser ? { vigil_forwards_end_user: true } : {}),
    ...(s.adminTool ? { vigil_admin_tool: true } : {}),
    ...(s.authzenClaims?.length ? { vigil_authzen_claims: s.authzenClaims } : {}),
  };
}

/** The checks that read the stores: the resources allowed exist and offer the scopes named. */
async function checkResources(deps: ClientSettingsDeps, s: ClientSettings): Promise<void> {
  const offered = new Set<string>();
  for (const allowed of s.allowedResources ?? []) {
    const rs = await deps.resourceServers.find(allowed);
    if (!rs) throw new ClientSettingsError('allowedResources', `${allowed} is not a registered resource server`);
    for (const scope of rs.scopes) offered.add(scope);
    // Administration is never granted by default: its scope must be named.
    if (deps.namedScopesOnly.includes(allowed) && !s.allowedScopes) throw new ClientSettingsError('allowedScopes', `${rs.scopes.join(' or ')} must be named for ${allowed} (never granted by default)`);
  }
  for (const scope of s.allowedScopes ?? []) if (!offered.has(scope)) throw new ClientSettingsError('allowedScopes', `${scope} is not a scope of the allowed resources`);
}

async function validateMetadata(deps: ClientSettingsDeps, metadata: ClientMetadata): Promise<void> {
  try {
    await deps.validate(metadata);
  } catch (err) {
    const e = err as { error_description?: string; message: string };
    throw new ClientSettingsError('metadata', e.error_description ?? e.message);
  }
}

export interface ClientRegistration {
  clientId: string;
  /** The new secret, when one was made: shown to the operator once, never stored in the clear. */
  clientSecret?: string;
  metadata: ClientMetadata;
  resourceServer?: ResourceServer;
}

const hideSecret = ({ client_secret: _hidden, ...shown }: ClientMetadata): ClientMetadata => shown;

/** A new client's id, for clients registered by an operator and through dynamic registration alike. */
export const newClientId = (): string => randomId(16);

/** Checks the settings and registers a new client (and its resource server). */
export async function registerClient(deps: ClientSettingsDeps, settings: ClientSettings): Promise<ClientRegistration> {
  checkFields(settings);
  const clientId = newClientId();
  const clientSecret = settings.public ? undefined : randomBytes(32).toString('base64url');
  const metadata: ClientMetadata = {
    ...metadataOf(clientId, settings),
    token_endpoint_auth_method: settings.public ? 'none' : 'client_secret_basic',
    ...(clientSecret ? { client_secret: clientSecret } : {}),
  };
  const rs = settings.resourceServer;
  const resourceServer: ResourceServer | undefined = rs && {
    identifier: rs.resource ?? `urn:vigil:rs:${clientId}`, clientId, scopes: rs.scopes, tokenFormat: rs.tokenFormat,
    ...(rs.accessTokenTtl ? { accessTokenTtl: rs.accessTokenTtl } : {}),
  };
  await validateMetadata(deps, metadata);
  if (resourceServer && await deps.resourceServers.find(resourceServer.identifier)) {
    throw new ClientSettingsError('resourceServer', `resource ${resourceServer.identifier} is already registered`);
  }
  await checkResources(deps, settings);
  await deps.clients.upsert(clientId, metadata as Payload);
  if (resourceServer) await deps.resourceServers.register(resourceServer);
  return { clientId, ...(clientSecret ? { clientSecret } : {}), metadata: hideSecret(metadata), ...(resourceServer ? { resourceServer } : {}) };
}

/**
 * Replaces a client's settings (all of them, as `settings` says), keeping its id, its secret
 * (a new one when a public client becomes confidential), and the metadata these settings do not
 * own (e.g. a dynamically registered client's jwks). A resource server keeps its identifier.
 */
export async function updateClient(deps: ClientSettingsDeps, clientId: string, current: Payload, settings: ClientSettings): Promise<ClientRegistration> {
  checkFields(settings);
  const existingRs = await deps.resourceServers.forClient(clientId);
  const rs = settings.resourceServer;
  if (existingRs && !rs) throw new ClientSettingsError('resourceServer', 'cannot be removed from a client that is a resource server');
  if (existingRs && rs?.resource !== undefined && rs.resource !== existingRs.identifier) {
    throw new ClientSettingsError('resourceServer', `resource is ${existingRs.identifier} and cannot be changed`);
  }
  const kept = Object.fromEntries(Object.entries(current).filter(([k]) => !MANAGED_KEYS.includes(k)));
  const wasPublic = current.token_endpoint_auth_method === 'none';
  const clientSecret = !settings.public && (wasPublic || typeof current.client_secret !== 'string') ? randomBytes(32).toString('base64url') : undefined;
  const { client_secret: oldSecret, ...rest } = kept;
  const metadata: ClientMetadata = {
    ...rest,
    ...metadataOf(clientId, settings),
    token_endpoint_auth_method: settings.public ? 'none' : (wasPublic ? 'client_secret_basic' : (current.token_endpoint_auth_method as ClientMetadata['token_endpoint_auth_method']) ?? 'client_secret_basic'),
    ...(settings.public ? {} : { client_secret: clientSecret ?? (oldSecret as string) }),
  };
  const resourceServer: ResourceServer | undefined = rs && {
    identifier: existingRs?.identifier ?? rs.resource ?? `urn:vigil:rs:${clientId}`, clientId, scopes: rs.scopes, tokenFormat: rs.tokenFormat,
    ...(rs.accessTokenTtl ? { accessTokenTtl: rs.accessTokenTtl } : {}),
  };
  await validateMetadata(deps, metadata);
  if (resourceServer && !existingRs && await deps.resourceServers.find(resourceServer.identifier)) {
    throw new ClientSettingsError('resourceServer', `resource ${resourceServer.identifier} is already registered`);
  }
  await checkResources(deps, settings);
  await deps.clients.upsert(clientId, metadata as Payload);
  if (resourceServer) await (existingRs ? deps.resourceServers.ensure(resourceServer) : deps.resourceServers.register(resourceServer));
  return { clientId, ...(clientSecret ? { clientSecret } : {}), metadata: hideSecret(metadata), ...(resourceServer ? { resourceServer } : {}) };
}
