import type { Context, Next } from 'koa';

/**
 * Every request is answered as if it had been sent to the issuer: its Host, X-Forwarded-Host and
 * X-Forwarded-Proto are replaced by the issuer's before anything reads them. oidc-provider builds
 * its absolute URLs (discovery, registration_client_uri, redirects) from the request's host and
 * protocol, and decides from the protocol whether its cookies are Secure; pinned here, neither a
 * client's Host (a poisoned shared cache, a forged endpoint) nor a missing or wrong
 * X-Forwarded-Proto (cookies without Secure behind a TLS-terminating proxy) can change them.
 * A request is not refused for its Host: load balancers' health checks, metrics scrapers and
 * proxies that rewrite Host name the instance, not the issuer, and nothing answered depends on it.
 * Both Koa apps (Vigil's and oidc-provider's, which builds its cookie jar from the raw request)
 * must run with `proxy` on so that they read the pinned forwarded headers.
 */
export function answerAsIssuer(issuer: string) {
  const { host, protocol } = new URL(issuer);
  const proto = protocol.slice(0, -1);
  return (ctx: Context, next: Next) => {
    const headers = ctx.req.headers;
    headers.host = host;
    headers['x-forwarded-host'] = host;
    headers['x-forwarded-proto'] = proto;
    return next();
  };
}
