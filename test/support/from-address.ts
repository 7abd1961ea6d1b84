import * as oidc from 'openid-client';
import { Browser } from './browserless.ts';
import { discover, type ClientOut } from './stack.ts';

/**
 * A person somewhere: requests that reach Vigil from `ip` through the trusted loopback proxy
 * (the stack runs with TRUST_PROXY=127.0.0.1/32) with `userAgent`, plus any other `headers`.
 */
function withAddress(ip: string, userAgent: string, headers: Record<string, string>, init: RequestInit = {}): Headers {
  const all = new Headers(init.headers);
  all.set('x-forwarded-for', ip);
  all.set('user-agent', userAgent);
  for (const [name, value] of Object.entries(headers)) all.set(name, value);
  return all;
}

/** A browser whose requests come from `ip` with `userAgent`. */
export function browserAt(ip: string, userAgent: string): Browser {
  const browser = new Browser();
  const original = browser.request.bind(browser);
  browser.request = (url, init = {}) => original(url, { ...init, headers: withAddress(ip, userAgent, {}, init) });
  return browser;
}

/** The relying party's configuration for `client`, its requests (token, introspection…) coming from `ip` with `userAgent`. */
export async function clientAt(issuer: string, client: ClientOut, ip: string, userAgent: string, headers: Record<string, string> = {}): Promise<oidc.Configuration> {
  const config = await discover(issuer, client);
  config[oidc.customFetch] = (url, init) => fetch(url, { ...init, headers: withAddress(ip, userAgent, headers, init as RequestInit) } as RequestInit);
  return config;
}
