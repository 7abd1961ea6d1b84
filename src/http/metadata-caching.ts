import type { Context, Next } from 'koa';
import type { Config } from '../config/index.ts';

const DISCOVERY = new Set(['/.well-known/openid-configuration', '/.well-known/oauth-authorization-server']);

/** Discovery changes only when Vigil is restarted with other settings: five minutes bounds how long a cache serves the old one. */
const DISCOVERY_MAX_AGE = 300;

/**
 * How long a cache may keep the JWKS: at most five minutes, and never so long that a key published
 * by `vigil keys rotate` could sign before every cached copy has it. A new key is published
 * VIGIL_KEY_PUBLISH_SECONDS before it signs and each instance sees it within
 * VIGIL_KEY_REFRESH_SECONDS. A retired key stays published for a token lifetime and more, so a
 * cached copy that still lists it does no harm.
 */
export function jwksMaxAge(config: Pick<Config, 'VIGIL_KEY_PUBLISH_SECONDS' | 'VIGIL_KEY_REFRESH_SECONDS'>): number {
  return Math.max(0, Math.min(300, config.VIGIL_KEY_PUBLISH_SECONDS - config.VIGIL_KEY_REFRESH_SECONDS));
}

/**
 * Cache-Control on the provider's public metadata (oidc-provider sets none): discovery and the
 * JWKS, which answer the same to every request (their URLs come from the issuer alone).
 */
export function metadataCaching(config: Config) {
  const jwks = `public, max-age=${jwksMaxAge(config)}`;
  const discovery = `public, max-age=${DISCOVERY_MAX_AGE}`;
  return async (ctx: Context, next: Next) => {
    await next();
    if (ctx.status !== 200 || (ctx.method !== 'GET' && ctx.method !== 'HEAD')) return;
    if (ctx.path === '/jwks') ctx.set('Cache-Control', jwks);
    else if (DISCOVERY.has(ctx.path)) ctx.set('Cache-Control', discovery);
  };
}
