/**
 * Who may call the admin API: bearer tokens issued by Vigil for the built-in resource server
 * `${ISSUER}/admin/api`, resolved to an AdminPrincipal on every call (no caching: a revoked
 * token, a disabled account or a removed role stops working at once).
 */
import type Provider from 'oidc-provider';
import { ACR, acrLevel, type Config } from '../config/index.ts';
import type { AccountStore } from '../identity/index.ts';
import type { ResourceServerStore } from '../oidc/index.ts';
import { BearerError, verifyAccessToken } from '../http/bearer.ts';
import type { AdminPrincipal, AdminRole } from './types.ts';

/** Everything the admin API does. */
export const ADMIN_SCOPE = 'admin';
/** Reading only. */
export const ADMIN_READ_SCOPE = 'admin:read';
/** Nominal owner of the built-in resource server (no client has this id). */
export const ADMIN_RESOURCE_OWNER = 'vigil-admin';
/** A person must have signed in with at least this (RFC 9470 step-up otherwise). */
export const ADMIN_MIN_ACR = ACR.twoFactor;

export const adminResource = (config: Pick<Config, 'ISSUER'>) => `${config.ISSUER}/admin/api`;

/** Registers (or updates) the admin API as a resource server with opaque access tokens (they can be recalled). */
export async function ensureAdminResourceServer(resourceServers: ResourceServerStore, config: Pick<Config, 'ISSUER'>): Promise<void> {
  await resourceServers.ensure({
    identifier: adminResource(config),
    clientId: ADMIN_RESOURCE_OWNER,
    scopes: [ADMIN_SCOPE, ADMIN_READ_SCOPE],
    tokenFormat: 'opaque',
  });
}

export interface AdminAuthDeps {
  config: Pick<Config, 'ISSUER'>;
  provider: () => Provider;
  accounts: AccountStore;
}

/** The role the token's scopes grant: `admin` writes, `admin:read` reads; neither is nothing. */
function roleFromScopes(scopes: Set<string>): AdminRole | undefined {
  if (scopes.has(ADMIN_SCOPE)) return 'admin';
  if (scopes.has(ADMIN_READ_SCOPE)) return 'auditor';
  return undefined;
}

const noAccess = () => new BearerError(403, 'insufficient_scope', 'this access token does not give access to the admin API', ADMIN_READ_SCOPE);

/**
 * The principal behind an access token for the admin API. A person needs the role `admin` or
 * `auditor`, a two-factor sign-in and an admin scope; the weaker of role and scope applies. A
 * service client needs an admin scope (client_credentials).
 */
export async function authenticateAdmin(token: string, ip: string, deps: AdminAuthDeps, identified?: (actor: string) => void): Promise<AdminPrincipal> {
  const holder = await verifyAccessToken(token, { provider: deps.provider, accounts: deps.accounts, resource: adminResource(deps.config), apiName: 'the admin API' });
  // Known from here on, even when refused below: the audit trail names who was refused.
  identified?.(holder.kind === 'client' ? holder.clientId : holder.account.id);
  const granted = roleFromScopes(holder.scopes);
  if (holder.kind === 'client') {
    if (!granted) throw noAccess();
    return { kind: 'client', clientId: holder.clientId, role: granted, ip };
  }
  const { account } = holder;
  const role: AdminRole | undefined = account.roles.includes('admin') ? 'admin' : account.roles.includes('auditor') ? 'auditor' : undefined;
  // A person without an admin role learns nothing more (not even that a second factor would be asked).
  if (!role) throw noAccess();
  const acr = typeof holder.claims.acr === 'string' ? holder.claims.acr : undefined;
  if (acrLevel(acr) < acrLevel(ADMIN_MIN_ACR)) {
    throw new BearerError(401, 'insufficient_user_authentication', 'the admin API needs a sign-in with a second factor', undefined, ADMIN_MIN_ACR);
  }
  if (!granted) throw noAccess();
  return { kind: 'person', accountId: account.id, email: account.email, role: role === 'admin' ? granted : 'auditor', acr: acr!, ip };
}
