import type { Context } from 'koa';
import type Provider from 'oidc-provider';
import type { KoaContextWithOIDC } from 'oidc-provider';
import type { Logger } from '../observability/index.ts';
import { RESPONSE_TOKEN_MODELS } from '../store/index.ts';

/** Waits for the token writes a request left for its last moment (see store/ResponseWrites). */
export type SettleWrites = (request: object) => Promise<{ error: unknown } | undefined>;

/**
 * A write the token response depends on failed after oidc-provider prepared the response (a
 * refresh token used twice, or a store that failed): the client gets the error oidc-provider
 * would have answered, and the access token prepared for it is removed. The same events are
 * emitted (`grant.error` audits a reused refresh token; `server_error` is logged).
 */
export async function answerFailedWrite(ctx: Context, error: unknown, provider: Provider, logger: Logger): Promise<void> {
  const oidc = (ctx as unknown as KoaContextWithOIDC).oidc;
  // The access token a failed response had issued is never handed out, so it is removed.
  for (const model of RESPONSE_TOKEN_MODELS) {
    const token = oidc?.entities?.[model] as { destroy(): Promise<void> } | undefined;
    if (token) await token.destroy().catch((err: unknown) => logger.error({ err, model }, 'could not remove an access token that was never handed out'));
  }
  const err = error as { expose?: boolean; statusCode?: number; message?: string; error_description?: string };
  ctx.set('Cache-Control', 'no-store');
  if (err?.expose === true && typeof err.message === 'string') {
    ctx.status = err.statusCode ?? 400;
    ctx.body = { error: err.message, ...(err.error_description !== undefined ? { error_description: err.error_description } : {}) };
    provider.emit('grant.error', ctx, error);
    return;
  }
  ctx.status = 500;
  ctx.body = { error: 'server_error', error_description: 'oops! something went wrong' };
  provider.emit('server_error', ctx, error);
}
