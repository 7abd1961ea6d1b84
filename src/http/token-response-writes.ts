import type { Context } from 'koa';
import type Provider from 'oidc-provider';
import { storeOutage, type SettledWrites } from '../store/index.ts';
import type { Logger } from '../observability/index.ts';
import { answerStoreOutageJson, logStoreOutage } from './errors.ts';

/**
 * Waits for the token writes a request left for its last moment (see store/ResponseWrites);
 * `delivered`: whether the response hands out what was written.
 */
export type SettleWrites = (request: object, delivered: boolean) => Promise<SettledWrites | undefined>;

/**
 * After oidc-provider answered a request: its deferred token writes are waited for. A response
 * that does not hand them out (an error answer, or a write that failed) has them taken back by
 * the store; a failed write becomes the answer.
 */
export async function settleTokenResponse(ctx: Context, settle: SettleWrites, provider: Provider, logger: Logger): Promise<void> {
  const settled = await settle(ctx, ctx.status < 400);
  if (!settled) return;
  for (const err of settled.notWithdrawn) {
    logger.error({ reason: (err as Error | undefined)?.message }, 'a token write that was never handed out could not be taken back');
  }
  if (settled.failure) answerFailedWrite(ctx, settled.failure.error, provider, logger);
}

/**
 * A write the token response depends on failed after oidc-provider prepared the response (a
 * refresh token used twice, or a store that failed): the client gets the error oidc-provider
 * would have answered (the tokens prepared for it were taken back by the store). An unreachable
 * store is a 503 with Retry-After and `temporarily_unavailable`: the client may retry with the
 * same refresh token. The same events are emitted (`grant.error` audits a reused refresh token;
 * `server_error` is logged).
 */
export function answerFailedWrite(ctx: Context, error: unknown, provider: Provider, logger: Logger): void {
  const outage = storeOutage(error);
  if (outage) {
    logStoreOutage(logger, outage);
    answerStoreOutageJson(ctx, outage);
    return;
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
