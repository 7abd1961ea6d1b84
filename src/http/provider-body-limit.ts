import type { EventEmitter } from 'node:events';
import type { Context, Next } from 'koa';
import type Provider from 'oidc-provider';

/** The largest body oidc-provider reads (its own constant, lib/shared/selective_body.js). */
export const PROVIDER_BODY_LIMIT = 56 * 1024;

/** The error events of oidc-provider's endpoints that read a body. */
const BODY_ROUTE_ERRORS = [
  'grant.error', 'introspection.error', 'revocation.error', 'registration_create.error', 'registration_update.error',
  'userinfo.error', 'end_session_confirm.error', 'pushed_authorization_request.error',
];

const TOO_LARGE = 'request entity too large';

const tooLarge = () => Object.assign(new Error(`The request body is too large: at most ${PROVIDER_BODY_LIMIT / 1024} KiB.`), { status: 413, error: 'invalid_request' });

/**
 * oidc-provider refuses a body past its limit as 400 "failed to parse the request body"; HTTP
 * (RFC 9110 §15.5.14) says 413. A declared length past the limit is refused before the body is
 * read; a chunked body is refused once oidc-provider has stopped reading it, when it reports why.
 */
export function providerBodyLimit(provider: () => Provider) {
  const watched = new WeakSet<Provider>();
  const noteTooLarge = (ctx: { state: Record<string, unknown> }, err: Error) => {
    if ((err?.cause as Error | undefined)?.message === TOO_LARGE) ctx.state.providerBodyTooLarge = true;
  };
  return async (ctx: Context, next: Next) => {
    if (Number(ctx.get('content-length') || 0) > PROVIDER_BODY_LIMIT) throw tooLarge();
    const current = provider();
    if (!watched.has(current)) {
      watched.add(current);
      for (const event of BODY_ROUTE_ERRORS) (current as unknown as EventEmitter).on(event, noteTooLarge);
    }
    await next();
    if (ctx.state.providerBodyTooLarge) throw tooLarge();
  };
}
