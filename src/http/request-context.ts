import { randomUUID } from 'node:crypto';
import type { Context, Next } from 'koa';
import { routeLabel, withRequestId, type Logger, type Metrics } from '../observability/index.ts';
import type { ProxyTrust } from './client-ip.ts';

const REQUEST_ID = /^[A-Za-z0-9._-]{1,64}$/;

/**
 * Outermost middleware: a request id for every log line of the request, the client's address,
 * one access-log line (path only: queries and bodies can carry codes and tokens), and metrics.
 */
export function requestContext(logger: Logger, metrics: Metrics, proxies: ProxyTrust) {
  return async (ctx: Context, next: Next) => {
    const given = ctx.get('x-request-id');
    const reqId = REQUEST_ID.test(given) ? given : randomUUID();
    ctx.set('X-Request-Id', reqId);
    const forwarded = ctx.get('x-forwarded-for') || undefined;
    ctx.state.clientIp = proxies.clientIp(ctx.req.socket.remoteAddress, forwarded);
    if (!proxies.isTrusted(ctx.req.socket.remoteAddress ?? '')) {
      // Only a trusted proxy may speak for the original request.
      delete ctx.req.headers['x-forwarded-proto'];
      delete ctx.req.headers['x-forwarded-host'];
      delete ctx.req.headers['x-forwarded-for'];
    }
    const started = process.hrtime.bigint();
    await withRequestId(reqId, async () => {
      try {
        await next();
      } finally {
        const seconds = Number(process.hrtime.bigint() - started) / 1e9;
        const route = routeLabel(ctx.path);
        metrics.requests.inc({ route, method: ctx.method, status: String(ctx.status) });
        metrics.latency.observe({ route, method: ctx.method }, seconds);
        logger.info({ method: ctx.method, route, path: route === 'other' ? undefined : ctx.path.slice(0, 200), status: ctx.status, ms: Math.round(seconds * 1e4) / 10, ip: ctx.state.clientIp }, 'request');
      }
    });
  };
}
