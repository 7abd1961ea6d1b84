/**
 * The shapes of what the admin API and console accept: ids, filters and request bodies. The API
 * validates every query and body with these at the edge; the service checks ids with them too
 * (the console calls it directly).
 */
import { z } from 'zod';
import { ACR_VALUES } from '../config/index.ts';
import { MAX_PAGE_SIZE } from './paging.ts';
import { roleSchema } from '../identity/index.ts';

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
export const rolesBody = z.strictObject({ reason: reasonSchema, roles: z.array(roleSchema).max(50, 'at most 50 roles') });
export const ssfDeliveryQuery = z.strictObject({ ...page, status: z.enum(['pending', 'delivered', 'failed'], { error: 'status must be pending, delivered or failed' }).optional() });
