import type { Context, Next } from 'koa';
import type { Logger } from '../observability/index.ts';
import { FormError } from './form.ts';
import { renderPage, type Views } from './views.ts';

/** A page only for those who ask for HTML (browsers do); API clients accepting anything get JSON, as from oidc-provider. */
function wantsHtml(ctx: Context): boolean {
  return ctx.accepts('json', 'html') === 'html';
}

/**
 * Whatever a handler throws, the client gets a clean answer: OAuth-shaped errors keep their
 * status and code, anything unexpected is a 500 without detail. Stacks go to the log only.
 */
export function errorBoundary(logger: Logger, views: Views) {
  return async (ctx: Context, next: Next) => {
    try {
      await next();
    } catch (thrown) {
      const err = thrown as Error & { status?: number; statusCode?: number; error?: string; error_description?: string; expose?: boolean };
      let status = err.status ?? err.statusCode ?? 500;
      if (status < 400 || status > 599) status = 500;
      const isForm = thrown instanceof FormError;
      const expose = status < 500 && (err.expose !== false || isForm);
      const code = expose ? (err.error ?? 'invalid_request') : 'server_error';
      const description = expose ? (err.error_description ?? err.message) : 'Something went wrong on our side. Please try again.';
      if (status >= 500) logger.error({ err }, 'request failed');
      else logger.info({ status, error: code }, 'request refused');
      if (wantsHtml(ctx)) {
        renderPage(ctx, views, 'error.njk', { title: 'Something went wrong', error: code, description }, status);
      } else {
        ctx.status = status;
        ctx.body = { error: code, error_description: description };
      }
    }
  };
}
