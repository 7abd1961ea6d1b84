import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import Koa, { type Context } from 'koa';
import compose from 'koa-compose';
import Router from '@koa/router';
import type Provider from 'oidc-provider';
import type { Config } from '../config/index.ts';
import { DEFAULT_BRAND, type Brand } from '../branding/index.ts';
import { constantTimeEqual } from '../crypto/index.ts';
import { storesReady, type Stores } from '../store/index.ts';
import type { Logger, Metrics } from '../observability/index.ts';
import { ProxyTrust } from './client-ip.ts';
import { errorBoundary } from './errors.ts';
import { answerAsIssuer } from './issuer-origin.ts';
import { metadataCaching } from './metadata-caching.ts';
import { postAsGet } from './post-as-get.ts';
import { providerBodyLimit } from './provider-body-limit.ts';
import { requestContext } from './request-context.ts';
import { securityHeaders } from './security-headers.ts';
import type { Views } from './views.ts';
import { settleTokenResponse, type SettleWrites } from './token-response-writes.ts';

const PUBLIC_DIR = fileURLToPath(new URL('../../public/', import.meta.url));
const ASSETS: Record<string, { type: string; body: Buffer }> = {
  'vigil.css': { type: 'text/css; charset=utf-8', body: readFileSync(`${PUBLIC_DIR}vigil.css`) },
  'webauthn.js': { type: 'text/javascript; charset=utf-8', body: readFileSync(`${PUBLIC_DIR}webauthn.js`) },
  'admin.css': { type: 'text/css; charset=utf-8', body: readFileSync(`${PUBLIC_DIR}admin.css`) },
  'admin.js': { type: 'text/javascript; charset=utf-8', body: readFileSync(`${PUBLIC_DIR}admin.js`) },
};

/**
 * oidc-provider's endpoints and the methods each answers. oidc-provider passes any other method
 * on unanswered (Koa's plain-text 404); clients get a 405 with Allow and an OAuth error instead.
 */
const PROVIDER_METHODS = new Map(Object.entries({
  '/auth': 'GET, POST',
  '/token': 'POST',
  '/token/introspection': 'POST',
  '/token/revocation': 'POST',
  '/reg': 'POST',
  '/me': 'GET, POST',
  '/jwks': 'GET',
  '/.well-known/openid-configuration': 'GET',
  '/session/end': 'GET, POST',
  '/session/end/confirm': 'POST',
}));

/** oidc-provider's words when a request carries no client authentication at all. */
const NO_CLIENT_AUTH = 'no client authentication mechanism provided';

export interface AppDeps {
  config: Config;
  stores: Stores;
  logger: Logger;
  metrics: Metrics;
  views: Views;
  /** The current provider; it is replaced when signing keys change. */
  provider: () => Provider;
  routers: Router[];
  /** Signs cookies; the same keys as the provider's. */
  cookieKeys: string[];
  /** The token writes a provider request left for the moment before it answers. */
  settleWrites: SettleWrites;
  /** The product name, logo and colours (/assets/brand.css, /assets/logo.*). */
  brand?: Brand;
  /** True once the server is shutting down: /readyz answers 503 so load balancers stop sending. */
  draining?: () => boolean;
}

/** The Koa app: Vigil's own routes first, then oidc-provider for everything else. */
export function createApp(deps: AppDeps): Koa {
  const { config, logger, metrics } = deps;
  const app = new Koa();
  const proxies = new ProxyTrust(config.TRUST_PROXY);
  // answerAsIssuer pins the forwarded headers to the issuer's; the client's address is ProxyTrust's.
  app.proxy = true;
  app.silent = true;
  app.keys = deps.cookieKeys;

  const metricsAllowed = new ProxyTrust(config.VIGIL_METRICS_ALLOW);
  const ops = new Router();
  ops.get('/healthz', (ctx) => {
    ctx.set('Cache-Control', 'no-store');
    ctx.body = { status: 'ok' };
  });
  ops.get('/readyz', async (ctx) => {
    ctx.set('Cache-Control', 'no-store');
    if (deps.draining?.()) {
      ctx.status = 503;
      ctx.body = { status: 'draining' };
      return;
    }
    const ready = await storesReady(deps.stores);
    ctx.status = ready.ok ? 200 : 503;
    ctx.body = { status: ready.ok ? 'ready' : 'unavailable', checks: ready.checks };
  });
  ops.get('/metrics', async (ctx: Context) => {
    const bearer = /^Bearer (.+)$/.exec(ctx.get('authorization'))?.[1];
    const byToken = config.VIGIL_METRICS_TOKEN !== undefined && bearer !== undefined && constantTimeEqual(bearer, config.VIGIL_METRICS_TOKEN);
    if (!byToken && !metricsAllowed.isTrusted(ctx.state.clientIp)) {
      ctx.status = 403;
      ctx.body = { error: 'forbidden', error_description: 'metrics are readable only from VIGIL_METRICS_ALLOW addresses or with VIGIL_METRICS_TOKEN' };
      return;
    }
    ctx.type = deps.metrics.registry.contentType;
    ctx.body = await deps.metrics.registry.metrics();
  });
  ops.get('/favicon.ico', (ctx) => {
    ctx.status = 204;
    ctx.set('Cache-Control', 'public, max-age=86400');
  });
  const brand = deps.brand ?? DEFAULT_BRAND;
  const assets: Record<string, { type: string; body: Buffer | string }> = {
    ...ASSETS,
    'brand.css': { type: 'text/css; charset=utf-8', body: brand.css },
    ...(brand.logo ? { [brand.logo.file]: { type: brand.logo.type, body: brand.logo.body } } : {}),
  };
  ops.get('/assets/:file', (ctx) => {
    const asset = assets[ctx.params.file];
    if (!asset) return;
    ctx.type = asset.type;
    ctx.set('Cache-Control', 'public, max-age=3600');
    // An SVG logo opened on its own is a document: nothing in it may run or load.
    if (asset.type === 'image/svg+xml') ctx.set('Content-Security-Policy', "default-src 'none'; style-src 'unsafe-inline'; sandbox");
    ctx.body = asset.body;
  });

  type Run = (ctx: Context, next: Koa.Next) => Promise<unknown>;
  let mounted: { provider: Provider; run: Run } | undefined;
  const providerMiddleware = async (ctx: Context, next: Koa.Next) => {
    const provider = deps.provider();
    if (mounted?.provider !== provider) mounted = { provider, run: compose(provider.middleware as Koa.Middleware[]) as unknown as Run };
    await mounted.run(ctx, next);
    await settleTokenResponse(ctx, deps.settleWrites, provider, logger);
    // RFC 6749 §5.2: "no client authentication included" is invalid_client; oidc-provider says invalid_request.
    const out = ctx.body as { error?: unknown; error_description?: unknown } | null | undefined;
    if (ctx.status === 400 && out?.error === 'invalid_request' && out.error_description === NO_CLIENT_AUTH) {
      ctx.status = 401;
      ctx.set('WWW-Authenticate', `Basic realm="${config.ISSUER}"`);
      ctx.body = { error: 'invalid_client', error_description: NO_CLIENT_AUTH };
    }
  };

  const wrongMethod = async (ctx: Context, next: Koa.Next) => {
    await next();
    const allow = PROVIDER_METHODS.get(ctx.path);
    if (allow === undefined || ctx.status !== 404 || ctx.body != null || ctx.method === 'HEAD' || ctx.method === 'OPTIONS') return;
    ctx.set('Allow', allow);
    throw Object.assign(new Error(`${ctx.method} is not allowed on ${ctx.path}; use ${allow}`), { status: 405, error: 'invalid_request' });
  };

  app.use(requestContext(logger, metrics, proxies));
  app.use(answerAsIssuer(config.ISSUER));
  app.use(securityHeaders(config.ISSUER.startsWith('https:')));
  app.use(errorBoundary(logger, deps.views));
  const vigilRoutes = compose([ops, ...deps.routers].flatMap((router) => [router.routes(), router.allowedMethods()]) as Koa.Middleware[]);
  // None of Vigil's routes is at one of oidc-provider's paths: requests to those (the hot ones:
  // token, introspection, JWKS) skip the routers' matching altogether.
  app.use((ctx, next) => (PROVIDER_METHODS.has(ctx.path) ? next() : vigilRoutes(ctx, next)));
  app.use(postAsGet(config.ISSUER));
  app.use(wrongMethod);
  app.use(metadataCaching(config));
  app.use(providerBodyLimit(deps.provider));
  app.use(providerMiddleware);
  return app;
}
