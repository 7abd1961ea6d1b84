import type { Context, Next } from 'koa';
import { OUTAGE_RETRY_AFTER_SECONDS, storeOutage, type StoreOutageError } from '../store/index.ts';
import type { Logger } from '../observability/index.ts';
import { isMessage, msg } from '../i18n/index.ts';
import { FormError } from './form.ts';
import { renderPage, viewLanguage, type Views } from './views.ts';

/** A page only for those who ask for HTML (browsers do); API clients accepting anything get JSON, as from oidc-provider. */
function wantsHtml(ctx: Context): boolean {
  return ctx.accepts('json', 'html') === 'html';
}

/**
 * The log line for a store outage: which store and what its client said, not the error object
 * (a Redis client's error carries the command it could not send, with its arguments).
 */
export function logStoreOutage(logger: Logger, outage: StoreOutageError): void {
  const cause = outage.cause as Error | undefined;
  logger.warn({ store: outage.store, reason: cause?.message ?? outage.message }, 'store unavailable; request answered 503');
}

/** The answer to an API client while a store is unreachable: 503, when to retry, and the OAuth error. */
export function answerStoreOutageJson(ctx: Context, outage: StoreOutageError): void {
  ctx.status = 503;
  ctx.set('Retry-After', String(outage.retryAfter));
  ctx.set('Cache-Control', 'no-store');
  ctx.body = { error: outage.error, error_description: outage.error_description };
}

/**
 * Whatever a handler throws, the client gets a clean answer: OAuth-shaped errors keep their
 * status and code, anything unexpected is a 500 without detail, an unreachable store a 503 with
 * Retry-After. Stacks go to the log only.
 */
export function errorBoundary(logger: Logger, views: Views) {
  return async (ctx: Context, next: Next) => {
    try {
      await next();
      // oidc-provider answers a store outage itself (503 and its OAuth error): the retry time is added here.
      if (ctx.status === 503 && !ctx.response.get('Retry-After')) ctx.set('Retry-After', String(OUTAGE_RETRY_AFTER_SECONDS));
    } catch (thrown) {
      const outage = storeOutage(thrown);
      if (outage) {
        logStoreOutage(logger, outage);
        if (!wantsHtml(ctx)) return answerStoreOutageJson(ctx, outage);
        renderPage(ctx, views, 'error.njk', { title: msg('error.titleUnavailable'), error: outage.error, description: msg('error.unavailable') }, 503);
        ctx.set('Retry-After', String(outage.retryAfter));
        return;
      }
      // pageMessage: what the page tells a person, in their language, instead of the description for clients.
      const err = thrown as Error & { status?: number; statusCode?: number; error?: string; error_description?: string; expose?: boolean; pageMessage?: unknown };
      let status = err.status ?? err.statusCode ?? 500;
      if (status < 400 || status > 599) status = 500;
      const isForm = thrown instanceof FormError;
      const expose = status < 500 && (err.expose !== false || isForm);
      const code = expose ? (err.error ?? 'invalid_request') : 'server_error';
      const description = expose ? (err.error_description ?? err.message) : 'Something went wrong on our side. Please try again.';
      if (status >= 500) logger.error({ err }, 'request failed');
      else logger.info({ status, error: code }, 'request refused');
      if (wantsHtml(ctx)) {
        const shown = !expose ? msg('error.serverError') : isMessage(err.pageMessage) ? err.pageMessage : description;
        renderPage(ctx, views, 'error.njk', { title: msg('error.titleGeneric'), error: code, description: shown }, status);
      } else {
        ctx.status = status;
        // A page's script shows the description to the person: in their language, when the error has one for people.
        const personal = expose && isMessage(err.pageMessage) ? viewLanguage(ctx, views).t(err.pageMessage) : description;
        ctx.body = { error: code, error_description: personal };
      }
    }
  };
}
