import type { Context, Next } from 'koa';
import { FormError, readBody } from './form.ts';

/**
 * The endpoints OIDC lets a relying party reach with a form POST as well as a GET: the
 * authorization endpoint (OIDC Core §3.1.2.1) and RP-initiated logout (§2 of that spec).
 */
const POST_AS_GET = new Set(['/auth', '/session/end']);

/**
 * The largest form turned into a query: the GET that follows must fit in Node's 16 KiB of request
 * headers with the browser's cookies.
 */
export const POST_AS_GET_LIMIT = 8 * 1024;

/**
 * A form POST to one of those endpoints is answered with a 303 to the same endpoint carrying the
 * form as its query. A relying party's form POST is cross-site, and the browser does not send
 * oidc-provider's SameSite=Lax cookies with it: oidc-provider would not see the person's session
 * (so prompt=none fails and logout ends nothing), which is why it supports POST only with
 * SameSite=None cookies. The browser sends Lax cookies with the top-level GET it follows the 303
 * with, so the request is then served exactly as a GET, with the session.
 */
export function postAsGet(issuer: string) {
  return async (ctx: Context, next: Next) => {
    if (ctx.method !== 'POST' || !POST_AS_GET.has(ctx.path)) return next();
    const typed = Boolean(ctx.get('content-type'));
    if (typed && !ctx.is('application/x-www-form-urlencoded')) throw new FormError(415, 'This endpoint takes its parameters as an application/x-www-form-urlencoded form.');
    const body = typed ? await readBody(ctx, POST_AS_GET_LIMIT) : '';
    const query = new URLSearchParams(body).toString();
    ctx.set('Cache-Control', 'no-store');
    ctx.status = 303;
    ctx.redirect(`${issuer}${ctx.path}${query ? `?${query}` : ''}`);
  };
}
