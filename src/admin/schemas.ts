/**
 * The shapes of what the admin API and console accept: ids, filters and request bodies. The API
 * validates every query and body with these at the edge; the service checks ids with them too
 * (the console calls it directly).
 */
import { z } from 'zod';
import { ACR_VALUES } from '../config/index.ts';
import { MAX_PAGE_SIZE } from './paging.ts';
import { roleSchema } from '../identity/index.ts';
import { ACTIVITY_KINDS } from './activity.ts';

export const ACCOUNT_ID = /^[A-Za-z0-9._:@-]{1,200}$/;
export const SESSION_UID = /^[A-Za-z0-9_-]{1,128}$/;
export const CLIENT_ID = /^[A-Za-z0-9._~:-]{1,200}$/;
export const DEVICE_ID = /^dev_[A-Za-z0-9_-]{22}$/;
/** An exact action (`admin.session.revoke`) or a prefix ending in `.` (`revocation.`). */
export const AUDIT_ACTION = /^[a-z0-9_:-]+(\.[a-z0-9_:-]+)*\.?$/;
const PRINTABLE = /^[^\p{Cc}]+$/u;

const id = (pattern: RegExp, what: string) => z.string().regex(pattern, `${what} is not a valid id`);
const time = (what: string) => z.iso.datetime({ offset: true, error: `${what} must be an ISO 8601 date-time (e.g. 2026-01-31T12:00:00Z)` })
  .transform((s) => new Date(s));
const page = {
  limit: z.string().regex(/^\d{1,6}$/, 'limit must be a whole number').transform(Number)
    .pipe(z.number().int().min(1, 'limit must be at least 1').max(MAX_PAGE_SIZE, `limit must be at most ${MAX_PAGE_SIZE}`)).optional(),
  cursor: z.string().max(1024).optional(),
};
export const activityKind = z.enum(ACTIVITY_KINDS, { error: `kind must be ${ACTIVITY_KINDS.join(', ')}` });
const riskLevel = z.enum(['low', 'medium', 'high'], { error: 'must be low, medium or high' });

export const accountIdSchema = id(ACCOUNT_ID, 'account');
export const sessionUidSchema = id(SESSION_UID, 'session');
export const clientIdSchema = id(CLIENT_ID, 'client');

export const sessionQuery = z.strictObject({
  ...page,
  account: accountIdSchema.optional(),
  client: clientIdSchema.optional(),
  risk: riskLevel.optional(),
  device: id(DEVICE_ID, 'device').optional(),
  country: z.string().regex(/^[A-Za-z]{2}$/, 'country must be an ISO 3166-1 alpha-2 code').transform((s) => s.toUpperCase()).optional(),
  since: time('since').optional(),
});

export const accountQuery = z.strictObject({ ...page, q: z.string().min(1).max(200).regex(PRINTABLE, 'q must be printable text').optional() });
export const pageQuery = z.strictObject(page);

export const auditQuery = z.strictObject({
  ...page,
  from: time('from').optional(),
  to: time('to').optional(),
  actor: z.string().max(200).regex(PRINTABLE, 'actor must be printable text').optional(),
  subject: z.string().max(200).regex(PRINTABLE, 'subject must be printable text').optional(),
  action: z.string().max(100).regex(AUDIT_ACTION, 'action is an action name, or a prefix ending in "."').optional(),
  kind: activityKind.optional(),
});

export const activityQuery = z.strictObject({
  window: z.enum(['day', 'week'], { error: 'window must be day or week' }).default('day'),
  until: time('until').optional(),
});

export const riskQuery = z.strictObject({
  ...page,
  account: accountIdSchema.optional(),
  client: clientIdSchema.optional(),
  level: riskLevel.optional(),
  decision: z.enum(['allow', 'mfa', 'step_up', 'revoke', 'deny'], { error: 'decision must be allow, mfa, step_up, revoke or deny' }).optional(),
  from: time('from').optional(),
  to: time('to').optional(),
});

export const logoutQuery = z.strictObject({ ...page, status: z.enum(['pending', 'delivered', 'failed'], { error: 'status must be pending, delivered or failed' }).optional() });

/** Why: kept in the audit trail and the revocation event. */
export const reasonSchema = z.string().trim().min(1, 'reason is required').max(500, 'reason must be at most 500 characters').regex(PRINTABLE, 'reason must be printable text');

export const reasonBody = z.strictObject({ reason: reasonSchema });
export const stepUpBody = z.strictObject({
  reason: reasonSchema,
  acr: z.enum(ACR_VALUES as [string, ...string[]], { error: `acr must be one of ${ACR_VALUES.join(', ')}` }).optional(),
});
export const emptyBody = z.strictObject({});
export const optionalReasonBody = z.strictObject({ reason: reasonSchema.optional() });
export const rolesBody = z.strictObject({ reason: reasonSchema, roles: z.array(roleSchema).max(50, 'at most 50 roles') });
export const ssfDeliveryQuery = z.strictObject({ ...page, status: z.enum(['pending', 'delivered', 'failed'], { error: 'status must be pending, delivered or failed' }).optional() });

// ---- creating and editing -----------------------------------------------------------------------

const optionalReason = { reason: reasonSchema.optional() };
const displayName = z.string().trim().max(200, 'name must be at most 200 characters').regex(/^[^\p{Cc}]*$/u, 'name must be printable text');
const roles = z.array(roleSchema).max(50, 'at most 50 roles');
const email = z.string().max(254, 'email must be at most 254 characters');

/** A new account; the password's rules are the store's (one message for the CLI and the API). */
export const newAccountBody = z.strictObject({
  ...optionalReason, email, name: displayName.optional(), roles: roles.optional(), password: z.string().max(1024, 'password is too long').optional(),
});
/** An invitation: the email and name and roles the account will have. */
export const newInvitationBody = z.strictObject({ ...optionalReason, email, name: displayName.optional(), roles: roles.optional() });
export const invitationQuery = z.strictObject({ status: z.enum(['pending', 'all'], { error: 'status must be pending or all' }).optional() });
export const accountChangeBody = z.strictObject({ ...optionalReason, email: email.optional(), name: displayName.optional(), roles: roles.optional() })
  .refine((b) => b.email !== undefined || b.name !== undefined || b.roles !== undefined, 'give at least one of email, name, roles');

const uri = z.string().min(1).max(2048, 'URIs are at most 2048 characters');
const uris = z.array(uri).max(20, 'at most 20 URIs');
const scopes = z.array(z.string().min(1).max(200)).max(50, 'at most 50 scopes');
const clientSettingsShape = {
  name: z.string().trim().min(1, 'name is required').max(200, 'name must be at most 200 characters').regex(/^[^\p{Cc}]+$/u, 'name must be printable text'),
  redirectUris: uris,
  postLogoutRedirectUris: uris,
  backchannelLogoutUri: uri,
  applicationType: z.enum(['web', 'native'], { error: 'applicationType must be web or native' }),
  public: z.boolean(),
  grantTypes: z.array(z.string().max(100)).min(1, 'grantTypes must name at least one grant type').max(3),
  defaultAcr: z.enum(ACR_VALUES as [string, ...string[]], { error: `defaultAcr must be one of ${ACR_VALUES.join(', ')}` }),
  resourceServer: z.strictObject({
    resource: z.string().max(2048).optional(),
    scopes: scopes.default([]),
    tokenFormat: z.enum(['jwt', 'opaque'], { error: 'tokenFormat must be jwt or opaque' }).default('jwt'),
    accessTokenTtl: z.number().int('accessTokenTtl must be a whole number of seconds').optional(),
  }),
  allowedResources: z.array(z.string().max(2048)).max(20, 'at most 20 resources'),
  allowedScopes: scopes,
  introspectAny: z.boolean(),
  forwardEndUser: z.boolean(),
  adminTool: z.boolean(),
  /** Checked in full by the provider's client metadata rules (vigil_authzen_claims). */
  authzenClaims: z.array(z.unknown()).max(10, 'at most 10 AuthZEN claims'),
};
/** Everything `vigil client create` can set; only the name is required. */
export const newClientBody = z.strictObject({ ...optionalReason, ...clientSettingsShape, name: clientSettingsShape.name }).partial().required({ name: true });
/** An edit: each setting given replaces the client's. */
export const clientChangeBody = z.strictObject({ ...optionalReason, ...clientSettingsShape }).partial()
  .refine((b) => Object.keys(b).some((k) => k !== 'reason'), 'give at least one setting to change');

export const registrationTokenBody = z.strictObject({
  ...optionalReason,
  expiresIn: z.number().int('expiresIn must be a whole number of seconds').min(60, 'expiresIn must be at least 60 seconds').max(365 * 86_400, 'expiresIn must be at most a year').optional(),
});

export const elevationIdSchema = z.uuid({ error: 'not a valid elevation id' });
export const elevationQuery = z.strictObject({
  status: z.enum(['pending', 'active', 'denied', 'revoked', 'expired'], { error: 'status must be pending, active, denied, revoked or expired' }).optional(),
  account: accountIdSchema.optional(),
  limit: page.limit,
});
/** A request for an elevation: the role, for how long (seconds; the role's maximum applies) and why. */
export const elevationRequestBody = z.strictObject({
  role: roleSchema,
  durationSeconds: z.number().int('durationSeconds must be a whole number').min(1).max(7 * 86_400),
  reason: reasonSchema,
});
export const eligibilityBody = z.strictObject({ role: roleSchema, reason: reasonSchema.optional() });
