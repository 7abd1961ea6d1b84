/**
 * The console's account and client forms: what a form sends turned into what the admin service
 * takes (checked with the admin API's own schemas, so both edges refuse the same things), and a
 * stored account's or client's settings turned back into form values to edit.
 */
import type { z } from 'zod';
import { firstIssue } from '../http/index.ts';
import { CLIENT_GRANT_TYPES, type ClientSettings } from '../oidc/index.ts';
import { accountChangeBody, clientChangeBody, newAccountBody, newClientBody, newInvitationBody } from './schemas.ts';
import type { AccountChange, AccountSummary, NewAccount, NewInvitation } from './types.ts';
import { AdminError } from './types.ts';

export type Form = Record<string, string>;

/** One value a line (URIs, resources). */
const lines = (v: string | undefined) => (v ?? '').split(/[\r\n]+/).map((s) => s.trim()).filter(Boolean);
/** Words separated by spaces or commas (roles, scopes). */
const words = (v: string | undefined) => (v ?? '').split(/[\s,]+/).filter(Boolean);
const text = (v: string | undefined) => (v?.trim() ? v.trim() : undefined);
const checked = (v: string | undefined) => v === 'on';
/** Keys whose value is undefined removed (a strict schema would see them as given). */
const defined = <T extends Record<string, unknown>>(o: T): T => Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;

function valid<S extends z.ZodType>(schema: S, value: unknown): z.output<S> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  throw new AdminError(400, 'invalid_request', firstIssue(result.error, { maxLength: 300 }));
}

export function newAccountFromForm(f: Form): { account: NewAccount; reason?: string } {
  const { reason, ...account } = valid(newAccountBody, defined({
    email: f.email?.trim() ?? '', name: text(f.name), roles: words(f.roles), password: f.password ? f.password : undefined, reason: text(f.reason),
  }));
  return { account, reason };
}

export function newInvitationFromForm(f: Form): { invitation: NewInvitation; reason?: string } {
  const { reason, ...invitation } = valid(newInvitationBody, defined({ email: f.email?.trim() ?? '', name: text(f.name), roles: words(f.roles), reason: text(f.reason) }));
  return { invitation, reason };
}

/** An edit form sends every field: each replaces the account's. */
export function accountChangeFromForm(f: Form): { change: AccountChange; reason?: string } {
  const { reason, ...change } = valid(accountChangeBody, defined({ email: f.email?.trim() ?? '', name: f.name?.trim() ?? '', roles: words(f.roles), reason: text(f.reason) }));
  return { change, reason };
}

export const accountForm = (a: AccountSummary): Form => ({ email: a.email, name: a.name, roles: a.roles.join(' ') });

/**
 * A client form's settings. Creating, unticked grant types and an empty name of a setting leave
 * the defaults of `client create`; editing, the form sends every setting, so each replaces the
 * client's (an emptied field removes the setting).
 */
export function clientSettingsFromForm(f: Form, editing: boolean): { settings: Partial<ClientSettings> & { name: string }; reason?: string } {
  const grantTypes = CLIENT_GRANT_TYPES.filter((g) => checked(f[`grant_${g}`]));
  const ttl = text(f.access_token_ttl);
  const allowedResources = lines(f.allowed_resources);
  const allowedScopes = words(f.allowed_scopes);
  const given = {
    name: f.name?.trim() ?? '',
    redirectUris: lines(f.redirect_uris),
    postLogoutRedirectUris: lines(f.post_logout_redirect_uris),
    backchannelLogoutUri: text(f.backchannel_logout_uri),
    applicationType: f.application_type || 'web',
    public: checked(f.public),
    grantTypes: grantTypes.length || editing ? grantTypes : undefined,
    defaultAcr: text(f.default_acr),
    resourceServer: checked(f.resource_server) ? defined({
      resource: text(f.resource), scopes: words(f.resource_scopes), tokenFormat: f.token_format || 'jwt', accessTokenTtl: ttl === undefined ? undefined : Number(ttl),
    }) : undefined,
    allowedResources: allowedResources.length ? allowedResources : undefined,
    allowedScopes: allowedScopes.length ? allowedScopes : undefined,
    introspectAny: checked(f.introspect_any),
    forwardEndUser: checked(f.forward_end_user),
    adminTool: checked(f.admin_tool),
  };
  const reason = text(f.reason);
  if (!editing) {
    const { reason: _r, ...settings } = valid(newClientBody, defined({ ...given, reason }));
    return { settings, reason };
  }
  const { reason: _r, ...checkedSettings } = valid(clientChangeBody, defined({ ...given, reason }));
  // Every setting the form left empty is removed from the client.
  const cleared = Object.fromEntries(Object.keys(given).map((k) => [k, undefined]));
  return { settings: { ...cleared, ...checkedSettings, name: given.name } as Partial<ClientSettings> & { name: string }, reason };
}

export function clientForm(s: ClientSettings): Form {
  const rs = s.resourceServer;
  return {
    name: s.name,
    redirect_uris: s.redirectUris.join('\n'),
    post_logout_redirect_uris: (s.postLogoutRedirectUris ?? []).join('\n'),
    backchannel_logout_uri: s.backchannelLogoutUri ?? '',
    application_type: s.applicationType,
    ...(s.public ? { public: 'on' } : {}),
    ...Object.fromEntries(s.grantTypes.map((g) => [`grant_${g}`, 'on'])),
    default_acr: s.defaultAcr ?? '',
    ...(rs ? { resource_server: 'on', resource: rs.resource ?? '', resource_scopes: rs.scopes.join(' '), token_format: rs.tokenFormat, access_token_ttl: rs.accessTokenTtl ? String(rs.accessTokenTtl) : '' } : {}),
    allowed_resources: (s.allowedResources ?? []).join('\n'),
    allowed_scopes: (s.allowedScopes ?? []).join(' '),
    ...(s.introspectAny ? { introspect_any: 'on' } : {}),
    ...(s.forwardEndUser ? { forward_end_user: 'on' } : {}),
    ...(s.adminTool ? { admin_tool: 'on' } : {}),
  };
}
