/**
 * A token response whose deferred write failed answers with that failure instead of its tokens,
 * as oidc-provider would have: the OAuth error a client can act on, or a bare server_error; the
 * access token prepared for it is removed; the provider's event is emitted (audit, logs).
 */
import type { Context } from 'koa';
import type Provider from 'oidc-provider';
import { errors } from 'oidc-provider';
import { answerFailedWrite } from '../../src/http/token-response-writes.ts';
import { createLogger } from '../../src/observability/index.ts';

function fakeContext(entities: Record<string, { destroy(): Promise<void> }>) {
  const headers: Record<string, string> = {};
  const ctx = {
    status: 200,
    body: { access_token: 'never handed out', refresh_token: 'nor this', token_type: 'Bearer' } as unknown,
    set: (name: string, value: string) => { headers[name.toLowerCase()] = value; },
    oidc: { entities },
  };
  return { ctx, headers };
}

function fakeProvider() {
  const events: { name: string; error: unknown }[] = [];
  return { provider: { emit: (name: string, _ctx: unknown, error: unknown) => events.push({ name, error }) } as unknown as Provider, events };
}

const logger = createLogger('silent');

test('a refresh token used twice: invalid_grant with oidc-provider\'s words, grant.error emitted, the access token removed', async () => {
  const destroyed: string[] = [];
  const { ctx, headers } = fakeContext({ AccessToken: { destroy: async () => { destroyed.push('AccessToken'); } } });
  const { provider, events } = fakeProvider();
  const error = new errors.InvalidGrant('refresh token already used');
  await answerFailedWrite(ctx as unknown as Context, error, provider, logger);
  expect(ctx.status).toBe(400);
  expect(ctx.body).toEqual({ error: 'invalid_grant', error_description: 'grant request is invalid' });
  expect(headers['cache-control']).toBe('no-store');
  expect(events).toEqual([{ name: 'grant.error', error }]);
  expect(destroyed).toEqual(['AccessToken']);
});

test('a store that failed: server_error without detail, server_error emitted; a failing removal is only logged', async () => {
  const { ctx } = fakeContext({ ClientCredentials: { destroy: async () => { throw new Error('still down'); } } });
  const { provider, events } = fakeProvider();
  const error = new Error('connection terminated unexpectedly');
  await answerFailedWrite(ctx as unknown as Context, error, provider, logger);
  expect(ctx.status).toBe(500);
  expect(ctx.body).toEqual({ error: 'server_error', error_description: 'oops! something went wrong' });
  expect(JSON.stringify(ctx.body)).not.toContain('connection terminated');
  expect(events).toEqual([{ name: 'server_error', error }]);
});
