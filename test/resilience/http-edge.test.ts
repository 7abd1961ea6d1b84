/**
 * What a client or an attacker controls at the HTTP edge, against a running Vigil: the Host and
 * forwarded headers (every URL Vigil writes comes from ISSUER, so nothing a cache keeps can be
 * poisoned), the size of a body (413), and the scopes of a client_credentials request
 * (every scope asked for, or invalid_scope).
 */
import { request as httpRequest } from 'node:http';
import { Readable } from 'node:stream';
import { vigilCli, type VigilProcess } from '../support/vigil-process.ts';
import { ADMIN, startStack, type ClientOut, type Stack } from '../support/stack.ts';
import { CookieJar, formAction, hiddenField } from '../support/browserless.ts';

const EVIL = 'evil.example';
/** What an attacker puts in every header that could name the host or the scheme. */
const FORGED = { host: EVIL, 'x-forwarded-host': EVIL, 'x-forwarded-proto': 'https', forwarded: `host=${EVIL};proto=https` };
const API = 'https://api.edge.test';
const REDIRECT_URI = 'http://127.0.0.1:9/cb';

let stack: Stack;
let vigil: VigilProcess;
let issuer: string;
let machine: ClientOut;
let web: ClientOut;

/** A request as an attacker sends it: fetch() replaces a Host header with the URL's, node:http does not. */
function forged(url: string, init: { method?: string; headers?: Record<string, string>; body?: string } = {}): Promise<Response> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { method: init.method ?? 'GET', headers: { ...FORGED, ...init.headers } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const headers = new Headers();
        for (const [name, value] of Object.entries(res.headers)) for (const v of [value ?? []].flat()) headers.append(name, v);
        resolve(new Response(res.statusCode === 204 ? null : Buffer.concat(chunks), { status: res.statusCode, headers }));
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(init.body);
  });
}

const basic = (c: ClientOut) => `Basic ${Buffer.from(`${encodeURIComponent(c.client_id)}:${encodeURIComponent(c.client_secret!)}`).toString('base64')}`;

/** Every absolute URL in a JSON document (any depth). */
function urlsIn(value: unknown): string[] {
  if (typeof value === 'string') return /^[a-z][a-z0-9+.-]*:\/\//i.test(value) ? [value] : [];
  if (Array.isArray(value)) return value.flatMap(urlsIn);
  if (value && typeof value === 'object') return Object.values(value).flatMap(urlsIn);
  return [];
}

/** A URL Vigil wrote is either relative (it resolves against wherever the browser is) or the issuer's. */
const fromIssuer = (url: string) => url.startsWith('/') || url === issuer || url.startsWith(`${issuer}/`) || url.startsWith(`${issuer}?`);

beforeAll(async () => {
  stack = await startStack();
  ({ vigil } = stack);
  issuer = vigil.issuer;
  await vigilCli(stack.env, ['client', 'create', '--name', 'Things API', '--resource-server', '--resource', API, '--scope', 'read:things', '--scope', 'write:things']);
  machine = await vigilCli(stack.env, ['client', 'create', '--name', 'Reader job', '--grant-type', 'client_credentials', '--allow-resource', API, '--scope', 'read:things']);
  web = await vigilCli(stack.env, ['client', 'create', '--name', 'Web App', '--redirect-uri', REDIRECT_URI]);
}, 120_000);

afterAll(async () => {
  await stack?.stop();
});

describe('the Host header', () => {
  test('discovery names only the issuer\'s URLs, whatever Host and forwarded headers say, and may be cached', async () => {
    const plain = await fetch(`${vigil.url}/.well-known/openid-configuration`);
    const response = await forged(`${vigil.url}/.well-known/openid-configuration`);
    expect(response.status).toBe(200);
    const body = await response.json() as Record<string, unknown>;
    expect(body).toEqual(await plain.json());
    const urls = urlsIn(body);
    expect(urls).toEqual(expect.arrayContaining([`${issuer}/auth`, `${issuer}/token`, `${issuer}/jwks`, `${issuer}/session/end`, `${issuer}/reg`]));
    expect(urls.filter((u) => !fromIssuer(u))).toEqual([]);
    expect(response.headers.get('cache-control')).toBe('public, max-age=300');
  });

  test('the JWKS may be cached, for less time than a new key waits before it signs', async () => {
    const response = await forged(`${vigil.url}/jwks`);
    expect(response.status).toBe(200);
    expect(((await response.json()) as { keys: unknown[] }).keys.length).toBeGreaterThan(0);
    // VIGIL_KEY_PUBLISH_SECONDS (3600) less VIGIL_KEY_REFRESH_SECONDS (60), capped at five minutes.
    expect(response.headers.get('cache-control')).toBe('public, max-age=300');
  });

  test('dynamic registration answers registration_client_uri on the issuer', async () => {
    const { initial_access_token: iat } = await vigilCli<{ initial_access_token: string }>(stack.env, ['registration-token', 'create']);
    const response = await forged(`${vigil.url}/reg`, {
      method: 'POST',
      headers: { authorization: `Bearer ${iat}`, 'content-type': 'application/json' },
      body: JSON.stringify({ redirect_uris: [REDIRECT_URI], client_name: 'Registered through a forged Host' }),
    });
    expect(response.status).toBe(201);
    const client = await response.json() as Record<string, unknown>;
    expect(client.registration_client_uri).toBe(`${issuer}/reg/${client.client_id}`);
    expect(urlsIn(client).filter((u) => !fromIssuer(u) && u !== REDIRECT_URI)).toEqual([]);
  });

  test('every redirect of a sign-in sent with a forged Host stays on the issuer', async () => {
    const jar = new CookieJar();
    const locations: string[] = [];
    // Issuer and instance are one address here: a Location that is relative resolves to it too.
    const send = async (url: string, form?: Record<string, string>) => {
      // Wherever a Location points, the next request goes to this instance (with the forged Host).
      const target = new URL(url, vigil.url);
      const response = await forged(`${vigil.url}${target.pathname}${target.search}`, {
        method: form ? 'POST' : 'GET',
        headers: { accept: 'text/html', cookie: jar.header(), ...(form ? { 'content-type': 'application/x-www-form-urlencoded' } : {}) },
        body: form ? new URLSearchParams(form).toString() : undefined,
      });
      jar.store(response);
      const location = response.headers.get('location') ?? undefined;
      if (location !== undefined) locations.push(new URL(location, vigil.url).toString());
      return { status: response.status, body: await response.text(), location: location && new URL(location, vigil.url).toString() };
    };
    const query = new URLSearchParams({ client_id: web.client_id, redirect_uri: REDIRECT_URI, response_type: 'code', scope: 'openid', state: 'st', nonce: 'n' });
    let page = await send(`${vigil.url}/auth?${query}`);
    for (let hops = 0; hops < 20 && page.location && !page.location.startsWith(REDIRECT_URI); hops++) {
      if (page.status >= 400) break;
      page = await send(page.location);
      if (page.body.includes('/login"')) {
        page = await send(formAction(page.body, '/login'), { csrf: hiddenField(page.body, 'csrf'), email: ADMIN.email, password: ADMIN.password });
      } else if (page.body.includes('/confirm"')) {
        page = await send(formAction(page.body, '/confirm'), { csrf: hiddenField(page.body, 'csrf') });
      }
    }
    expect(page.location?.startsWith(`${REDIRECT_URI}?`)).toBe(true);
    expect(new URL(page.location!).searchParams.get('code')).toBeTruthy();
    expect(locations.length).toBeGreaterThan(2);
    expect(locations.filter((l) => !fromIssuer(l) && !l.startsWith(REDIRECT_URI))).toEqual([]);
  });

  test('idle keep-alive connections last VIGIL_HTTP_KEEP_ALIVE_SECONDS, and clients are told so', async () => {
    // The test stacks run with 1 s (test/support/vigil-process.ts); the shipped 5 s would say timeout=5.
    const answer = await forged(`${vigil.url}/healthz`, { headers: { host: new URL(vigil.url).host } });
    expect(answer.headers.get('keep-alive')).toBe('timeout=1');
  });

  test('health checks and metrics answer whatever Host a load balancer or scraper sends', async () => {
    for (const path of ['/healthz', '/readyz']) {
      const response = await forged(`${vigil.url}${path}`, { headers: { host: '10.1.2.3:8080' } });
      expect(response.status).toBe(200);
    }
  });
});

describe('the size of a body', () => {
  const tokenRequest = (body: BodyInit, headers: Record<string, string> = {}) => fetch(`${vigil.url}/token`, {
    method: 'POST',
    headers: { authorization: basic(machine), 'content-type': 'application/x-www-form-urlencoded', ...headers },
    body,
    ...(body instanceof ReadableStream ? { duplex: 'half' } : {}),
  } as RequestInit);
  const oversized = () => `grant_type=client_credentials&filler=${'a'.repeat(100 * 1024)}`;

  test('a token request past the limit, with its length declared, answers 413', async () => {
    const response = await tokenRequest(oversized());
    expect(response.status).toBe(413);
    expect(await response.json()).toEqual({ error: 'invalid_request', error_description: expect.stringMatching(/too large/) });
  });

  test('a chunked token request past the limit answers 413', async () => {
    const response = await tokenRequest(Readable.toWeb(Readable.from([Buffer.from(oversized())])) as ReadableStream);
    expect(response.status).toBe(413);
    expect(await response.json()).toMatchObject({ error: 'invalid_request' });
  });

  test('a token request within the limit is served', async () => {
    const response = await tokenRequest(`grant_type=client_credentials&resource=${encodeURIComponent(API)}&filler=${'a'.repeat(40 * 1024)}`);
    expect(response.status).toBe(200);
  });

  test('a registration past the limit answers 413', async () => {
    const response = await fetch(`${vigil.url}/reg`, {
      method: 'POST',
      headers: { authorization: 'Bearer whatever', 'content-type': 'application/json' },
      body: JSON.stringify({ redirect_uris: [REDIRECT_URI], client_name: 'x'.repeat(100 * 1024) }),
    });
    expect(response.status).toBe(413);
  });
});

describe('client_credentials scopes', () => {
  const token = (body: Record<string, string>) => fetch(`${vigil.url}/token`, {
    method: 'POST',
    headers: { authorization: basic(machine), 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'client_credentials', ...body }),
  });

  test('a scope of the resource the client may not have is refused with invalid_scope, not given as an empty token', async () => {
    for (const scope of ['write:things', 'read:things write:things', 'no:such:scope']) {
      const response = await token({ resource: API, scope });
      expect(response.status).toBe(400);
      const body = await response.json() as Record<string, unknown>;
      expect(body).toMatchObject({ error: 'invalid_scope' });
      expect(body.access_token).toBeUndefined();
    }
  });

  test('a scope that no resource gives is refused with invalid_scope', async () => {
    const response = await token({ scope: 'read:things' });
    expect(response.status).toBe(400);
    expect(await response.json()).toMatchObject({ error: 'invalid_scope' });
  });

  test('an allowed scope is granted and named in the response', async () => {
    const response = await token({ resource: API, scope: 'read:things' });
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({ scope: 'read:things', token_type: 'Bearer' });
  });
});
