/**
 * The error boundary answers a store that cannot be reached with 503 and Retry-After: JSON for
 * API clients, a readable page for browsers, never a 500; a 503 answered further in (by
 * oidc-provider) gets its Retry-After too. Other failures are answered as before.
 */
import type { Server } from 'node:http';
import Koa from 'koa';
import { errorBoundary } from '../../src/http/errors.ts';
import { createViews } from '../../src/http/index.ts';
import { createLogger } from '../../src/observability/index.ts';
import { StoreOutageError } from '../../src/store/index.ts';
import { msg } from '../../src/i18n/index.ts';

let server: Server;
let url: string;

beforeAll(async () => {
  const app = new Koa();
  app.silent = true;
  app.use(errorBoundary(createLogger('silent'), createViews()));
  app.use((ctx) => {
    if (ctx.path === '/raw') throw Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:6379'), { code: 'ECONNREFUSED' });
    if (ctx.path === '/named') throw new StoreOutageError('postgres', new Error('Connection terminated unexpectedly'));
    if (ctx.path === '/form') throw Object.assign(new Error('the form token is not this browser\'s'), { status: 403, expose: true, error: 'invalid_request', pageMessage: msg('common.formExpired') });
    if (ctx.path === '/answered') {
      ctx.status = 503;
      ctx.body = { error: 'temporarily_unavailable' };
      return;
    }
    throw new Error('a bug');
  });
  server = app.listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
});

afterAll(() => new Promise((resolve) => server.close(resolve)));

test.each(['/raw', '/named'])('%s: 503 temporarily_unavailable with Retry-After, no detail', async (path) => {
  const response = await fetch(`${url}${path}`, { headers: { accept: 'application/json' } });
  expect(response.status).toBe(503);
  expect(response.headers.get('retry-after')).toBe('5');
  const body = await response.json();
  expect(body).toEqual({ error: 'temporarily_unavailable', error_description: 'the service is temporarily unavailable; try again shortly' });
});

test('a browser gets a readable page', async () => {
  const response = await fetch(`${url}/raw`, { headers: { accept: 'text/html' } });
  expect(response.status).toBe(503);
  expect(response.headers.get('retry-after')).toBe('5');
  const page = await response.text();
  expect(page).toContain('Temporarily unavailable');
  expect(page).not.toContain('ECONNREFUSED');
});

test('a 503 answered further in gets Retry-After; any other failure is still a 500 without detail', async () => {
  const answered = await fetch(`${url}/answered`);
  expect(answered.status).toBe(503);
  expect(answered.headers.get('retry-after')).toBe('5');
  const bug = await fetch(`${url}/bug`, { headers: { accept: 'application/json' } });
  expect(bug.status).toBe(500);
  expect(bug.headers.get('retry-after')).toBeNull();
  expect(await bug.json()).toMatchObject({ error: 'server_error' });
});

test('a refused form posted by a page\'s script: the JSON description is for the person, in their language', async () => {
  const answer = (lang: string) => fetch(`${url}/form`, { method: 'POST', headers: { accept: 'application/json', 'accept-language': lang } }).then(async (r) => ({ status: r.status, body: await r.json() }));
  expect(await answer('de')).toEqual({ status: 403, body: { error: 'invalid_request', error_description: 'Dieses Formular ist abgelaufen. Laden Sie die Seite neu und versuchen Sie es erneut.' } });
  expect(await answer('en')).toEqual({ status: 403, body: { error: 'invalid_request', error_description: 'This form has expired. Reload the page and try again.' } });
});
