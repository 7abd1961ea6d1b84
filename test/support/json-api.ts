/** What tests of Vigil's JSON APIs (devices, SSF, admin) share: a call with a bearer token, and a client's token. */
import type { ClientOut } from './stack.ts';

export interface JsonAnswer {
  status: number;
  headers: Headers;
  /** The parsed JSON: its shape is what each test asserts. */
  body: any;
}

/** `method path` at `base` with a bearer token and a JSON body; the answer's JSON (undefined when empty). */
export async function jsonCall(base: string, method: string, path: string, token: string | undefined, body?: unknown): Promise<JsonAnswer> {
  const res = await fetch(`${base}${path}`, {
    method,
    headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, headers: res.headers, body: text ? JSON.parse(text) : undefined };
}

/** A client_credentials access token of `client` for `resource` with `scope` (fails the test otherwise). */
export async function clientCredentialsToken(issuer: string, client: ClientOut, resource: string, scope: string): Promise<string> {
  const res = await fetch(`${issuer}/token`, {
    method: 'POST',
    headers: {
      authorization: `Basic ${Buffer.from(`${encodeURIComponent(client.client_id)}:${encodeURIComponent(client.client_secret!)}`).toString('base64')}`,
      'content-type': 'application/x-www-form-urlencoded',
    },
    body: new URLSearchParams({ grant_type: 'client_credentials', resource, scope }),
  });
  if (res.status !== 200) throw new Error(`client_credentials for ${resource} answered ${res.status}: ${await res.text()}`);
  return (await res.json() as { access_token: string }).access_token;
}
