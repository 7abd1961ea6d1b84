/**
 * Every call to the admin API and every console page is in the audit trail: who (once known),
 * what (method, path, query), from where and the result. Changes are audited again, in detail,
 * by the admin service; these entries cover reads and refusals too. They are written behind, in
 * batches, so reading the console costs no extra round trip.
 */
import type { Context, Next } from 'koa';
import type { AuditEntry } from '../audit/index.ts';

/** Set by the API's token check and the console's sign-in check once the caller is known. */
export const ADMIN_ACTOR = 'adminActor';

/** A value in a query string that must not reach the trail (RFC 6750 allows `access_token` there). */
const SECRET_PARAMETER = /token|secret|password|code/i;

function recordedQuery(querystring: string): string {
  const params = new URLSearchParams(querystring.slice(0, 2000));
  for (const key of new Set(params.keys())) if (SECRET_PARAMETER.test(key)) params.set(key, '[redacted]');
  return params.toString().slice(0, 500);
}

function outcome(status: number): AuditEntry['outcome'] {
  if (status < 400) return 'success';
  return status === 401 || status === 403 ? 'denied' : 'failure';
}

export function auditAdminCalls(action: string, record: (entry: AuditEntry) => void, skip: (path: string) => boolean = () => false) {
  return async function auditCall(ctx: Context, next: Next): Promise<void> {
    if (skip(ctx.path)) return next();
    try {
      await next();
    } finally {
      record({
        actor: typeof ctx.state[ADMIN_ACTOR] === 'string' ? ctx.state[ADMIN_ACTOR] : 'unauthenticated',
        action, subject: ctx.path.slice(0, 300), ip: ctx.state.clientIp, outcome: outcome(ctx.status),
        details: { method: ctx.method, query: recordedQuery(ctx.querystring), status: ctx.status },
      });
    }
  };
}
