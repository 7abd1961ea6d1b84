/**
 * Who may call the admin API: bearer tokens issued by Vigil for the built-in resource server
 * `${ISSUER}/admin/api`, resolved to an AdminPrincipal on every call (no caching: a revoked
 * token, a disabled account or a removed role stops working at once).
 */
import type Provider from 'oidc-provider';
import { ACR, acrLevel, type Config } from '../config/index.ts';
import type { Account, AccountStore } from '../identity/index.ts';
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
  /** A person's roles now for a sign-in of `acr` (standing and elevated); the standing roles when unset. */
  rolesOf?: (account: Account, acr: string | undefined) => Promise<string[]>;
}

/** A person calling the admin API for something any person may do (their elevations), with their roles now. */
export interface PersonCaller {
  accountId: string;
  email: string;
  roles: string[];
  acr: string | undefined;
  /** Epoch seconds of the sign-in. */
  authTime: number | undefined;
  /** The token may change things (scope `admin`), not only read (`admin:read`). */
  mayWrite: boolean;
  ip: string;
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
  const acr = typeof holder.claims.acr === 'string' ? holder.claims.acr : undefined;
  // Roles now, not as the token was issued: an elevation that ended ends its admin rights at once.
  const roles = deps.rolesOf ? await deps.rolesOf(account, acr) : account.roles;
  const role: AdminRole | undefined = roles.includes('admin') ? 'admin' : roles.includes('auditor') ? 'auditor' : undefined;
  // A person without an admin role learns nothing more (not even that a second factor would be asked).
  if (!role) throw noAccess();
  if (acrLevel(acr) < acrLevel(ADMIN_MIN_ACR)) {
    throw new BearerError(401, 'insufficient_user_authentication', 'the admin API needs a sign-in with a second factor', undefined, ADMIN_MIN_ACR);
  }
  if (!granted) throw noAccess();
  return { kind: 'person', accountId: account.id, email: account.email, role: role === 'admin' ? granted : 'auditor', acr: acr!, ip };
}

/**
 * Any person with an access token for the admin API (scope `admin` or `admin:read`): what they may
 * do is decided per action (their own elevations; approvals by approvers). Service clients are refused.
 */
export async function authenticatePerson(token: string, ip: string, deps: AdminAuthDeps, identified?: (actor: string) => void): Promise<PersonCaller> {
  const holder = await verifyAccessToken(token, { provider: deps.provider, accounts: deps.accounts, resource: adminResource(deps.config), apiName: 'the admin API' });
  identified?.(holder.kind === 'client' ? holder.clientId : holder.account.id);
  const granted = roleFromScopes(holder.scopes);
  if (holder.kind === 'client' || !granted) throw noAccess();
  const acr = typeof holder.claims.acr === 'string' ? holder.claims.acr : undefined;
  const authTime = typeof holder.claims.auth_time === 'number' ? holder.claims.auth_time : undefined;
  const roles = deps.rolesOf ? await deps.rolesOf(holder.account, acr) : holder.account.roles;
  return { accountId: holder.account.id, email: holder.account.email, roles, acr, authTime, mayWrite: granted === 'admin', ip };
}
