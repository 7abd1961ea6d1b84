import type autocannon from 'autocannon';
import { basicAuth, RESOURCES } from './accounts.ts';
import type { Target } from './target.ts';

/** An opaque access token from client_credentials, for the introspection scenario. */
export async function opaqueAccessToken(target: Target): Promise<string> {
  const response = await fetch(`${target.url}/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basicAuth(target.machine) },
    body: `grant_type=client_credentials&resource=${encodeURIComponent(RESOURCES.opaque)}&scope=read`,
  });
  if (!response.ok) throw new Error(`${target.label}: client_credentials answered ${response.status}: ${await response.text()}`);
  return ((await response.json()) as { access_token: string }).access_token;
}

/** The introspection scenario's request: the resource server checks an opaque access token. */
export async function introspectionRequest(target: Target): Promise<autocannon.Options> {
  return {
    url: `${target.url}/token/introspection`, method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basicAuth(target.rs) },
    // As a resource server checking the access tokens it is sent does (RFC 7662 §2.1): without the
    // hint, oidc-provider also looks the value up as a refresh token (in Postgres, for Vigil).
    body: `token=${await opaqueAccessToken(target)}&token_type_hint=access_token`,
  };
}
