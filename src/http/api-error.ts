import type { Context, Next } from 'koa';
import { BearerError } from './bearer.ts';
import { FormError } from './form.ts';

/** A JSON API's refusal: the HTTP status and the error code its body carries. */
export class ApiError extends Error {
  readonly status: number;
  readonly code: string;

  constructor(status: number, code: string, message: string) {
    super(message);
    this.status = status;
    this.code = code;
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
