import type { Context, Next } from 'koa';
import { BearerError } from './bearer.ts';
import { FormError } from './form.ts';

/** A JSON API's refusal: the HTTP status, the error code its body carries, and when to retry (429). */
export class ApiError extends Error {
  readonly status: number;
  readonly code: string;
  readonly retryAfter: number | undefined;

  constructor(status: number, code: string, message: string, retryAfter?: number) {
    super(message);
    this.status = status;
    this.code = code;
    this.retryAfter = retryAfter;
  }
}

/**
 * The error answers of a JSON API under a bearer-token realm: RFC 6750 challenges for tokens,
 * `{ error, error_description }` for its own refusals and unreadable bodies; anything else goes on
 * to the server's error boundary. Answers are never cached.
 */
export function jsonApiErrors(realm: string) {
  return async function jsonApiErrorAnswer(ctx: Context, next: Next): Promise<void> {
    ctx.set('Cache-Control', 'no-store');
    try {
      await next();
    } catch (err) {
      if (err instanceof BearerError) {
        ctx.set('WWW-Authenticate', err.challenge(realm));
        ctx.status = err.status;
        ctx.body = { error: err.error ?? 'invalid_token', error_description: err.message };
      } else if (err instanceof ApiError) {
        if (err.retryAfter) ctx.set('Retry-After', String(err.retryAfter));
        ctx.status = err.status;
        ctx.body = { error: err.code, error_description: err.message };
      } else if (err instanceof FormError) {
        ctx.status = err.status;
        ctx.body = { error: 'invalid_request', error_description: err.message };
      } else {
        throw err;
      }
    }
  };
}
