/**
 * A token response whose deferred write failed answers with that failure instead of its tokens,
 * as oidc-provider would have: the OAuth error a client can act on, a bare server_error, or, for a
 * store that cannot be reached, 503 temporarily_unavailable with Retry-After; the provider's event
 * is emitted (audit, logs). Settling tells the store whether the response hands its tokens out.
 */
import type { Context } from 'koa';
import type Provider from 'oidc-provider';
import { errors } from 'oidc-provider';
import { answerFailedWrite, settleTokenResponse } from '../../src/http/token-response-writes.ts';
import { createLogger } from '../../src/observability/index.ts';
import { StoreOutageError } from '../../src/store/index.ts';

function fakeContext(status = 200) {
  const headers: Record<string, string> = {};
  const ctx = {
    status,
    body: { access_token: 'never handed out', refresh_token: 'nor this', token_type: 'Bearer' } as unknown,
    set: (name: string, value: string) => { headers[name.toLowerCase()] = value; },
    oidc: { entities: {} },
  };
  return { ctx, headers };
}

function fakeProvider() {
  const events: { name: string; error: unknown }[] = [];
  return { provider: { emit: (name: string, _ctx: unknown, error: unknown) => events.push({ name, error }) } as unknown as Provider, events };
}

const logger = createLogger('silent');

test('a refresh token used twice: invalid_grant with oidc-provider\'s words, grant.error emitted', () => {
  const { ctx, headers } = fakeContext();
  const { provider, events } = fakeProvider();
  const error = new errors.InvalidGrant('refresh token already used');
  answerFailedWrite(ctx as unknown as Context, error, provider, logger);
  expect(ctx.status).toBe(400);
  expect(ctx.body).toEqual({ error: 'invalid_grant', error_description: 'grant request is invalid' });
  expect(headers['cache-control']).toBe('no-store');
  expect(events).toEqual([{ name: 'grant.error', error }]);
});

test('a store that failed: server_error without detail, server_error emitted', () => {
  const { ctx } = fakeContext();
  const { provider, events } = fakeProvider();
  const error = new Error('something odd');
  answerFailedWrite(ctx as unknown as Context, error, provider, logger);
  expect(ctx.status).toBe(500);
  expect(ctx.body).toEqual({ error: 'server_error', error_description: 'oops! something went wrong' });
  expect(events).toEqual([{ name: 'server_error', error }]);
});

test.each([
  ['a StoreOutageError', new StoreOutageError('redis', new Error('Stream isn\'t writeable and enableOfflineQueue options is false'))],
  ['a store client\'s own connection error', Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:6390'), { code: 'ECONNREFUSED' })],
  ['pg losing its connection', new Error('Connection terminated unexpectedly')],
])('a store that cannot be reached (%s): 503 temporarily_unavailable with Retry-After, no detail', (_, error) => {
  const { ctx, headers } = fakeContext();
  const { provider, events } = fakeProvider();
  answerFailedWrite(ctx as unknown as Context, error, provider, logger);
  expect(ctx.status).toBe(503);
  expect(ctx.body).toEqual({ error: 'temporarily_unavailable', error_description: 'the service is temporarily unavailable; try again shortly' });
  expect(headers['retry-after']).toBe('5');
  expect(headers['cache-control']).toBe('no-store');
  expect(events).toEqual([]);
});

test('settling tells the store whether the response hands its tokens out, and answers a failed write', async () => {
  const calls: boolean[] = [];
  const { provider } = fakeProvider();
  const delivered = fakeContext(200);
  await settleTokenResponse(delivered.ctx as unknown as Context, async (_req, handedOut) => { calls.push(handedOut); return undefined; }, provider, logger);
  const refused = fakeContext(400);
  await settleTokenResponse(refused.ctx as unknown as Context, async (_req, handedOut) => { calls.push(handedOut); return { notWithdrawn: [new Error('down')] }; }, provider, logger);
  expect(calls).toEqual([true, false]);
  expect(refused.ctx.status).toBe(400);
  const failed = fakeContext(200);
  await settleTokenResponse(failed.ctx as unknown as Context, async () => ({ failure: { error: new StoreOutageError('redis', undefined) }, notWithdrawn: [] }), provider, logger);
  expect(failed.ctx.status).toBe(503);
});
