/**
 * /admin/api: the admin operations as a JSON API for scripts and service clients (docs/admin-api.md).
 * Every query and body is validated here; the answers are JSON, never cached, and errors are
 * `{ error, error_description }` (RFC 6750 challenges for tokens).
 */
import { ApiError, jsonApiErrors } from '../http/api-error.ts';
import Router from '@koa/router';
import type { Context, Next } from 'koa';
import type Provider from 'oidc-provider';
import { z } from 'zod';
import { ACR, type Config } from '../config/index.ts';
import type { AccountStore } from '../identity/index.ts';
import { REGISTRATION_TOKEN_LIFETIME, withDefaults } from '../oidc/index.ts';
import type { Logger } from '../observability/index.ts';
import type { AttemptLimiter } from '../limits/index.ts';
import { BearerError, bearerToken } from '../http/bearer.ts';
import { readJson } from '../http/form.ts';
import { firstIssue } from '../http/zod-issue.ts';
import type { RevocationEvent } from '../sessions/index.ts';
import { storeOutage } from '../store/index.ts';
import type { FederationProviderView } from '../federation/index.ts';
import type { AuditEntry } from '../audit/index.ts';
import { adminResource, authenticateAdmin } from './auth.ts';
import { ADMIN_ACTOR, auditAdminCalls } from './call-audit.ts';
import {
  accountChangeBody, clientChangeBody, newAccountBody, newInvitationBody, invitationQuery, newClientBody, registrationTokenBody,
  accountIdSchema, accountQuery, activityQuery, auditQuery, clientIdSchema, emptyBody, logoutQuery, pageQuery, reasonBody, riskQuery, sessionQuery,
  optionalReasonBody, rolesBody, sessionUidSchema, ssfDeliveryQuery, stepUpBody,
} from './schemas.ts';
import { AdminError, type AdminOperations, type AdminPrincipal } from './types.ts';

export interface AdminApiDeps {
  config: Pick<Config, 'ISSUER'>;
  provider: () => Provider;
  accounts: AccountStore;
  service: AdminOperations;
  logger: Logger;
  /** Refused access tokens per client address. */
  tokenLimiter: AttemptLimiter;
  /** Where the entry of every call goes (written behind). */
  auditCall: (entry: AuditEntry) => void;
  /** The upstream identity providers in force, with their last sign-in and last error. */
  federationProviders?: () => Promise<FederationProviderView[]>;
}

const BODY_LIMIT = 8 * 1024;

/** The value, or a 400 naming the first problem; a malformed id in the path is a 404 (no such thing). */
function valid<S extends z.ZodType>(schema: S, value: unknown, notFound?: string): z.output<S> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  if (notFound) throw new AdminError(404, 'not_found', `no such ${notFound}`);
  throw new AdminError(400, 'invalid_request', firstIssue(result.error, { nameUnknownKeys: true, maxLength: 300 }));
}

const revocationView = (e: RevocationEvent) => ({
  kind: e.kind, target: e.target, accountId: e.accountId ?? null, sessions: e.sessions, grants: e.grants, clients: e.clients,
  reason: e.reason, at: new Date(e.at).toISOString(),
});

export function adminApiRoutes(deps: AdminApiDeps): Router {
  const router = new Router({ prefix: '/admin/api' });
  const { service } = deps;
  const realm = adminResource(deps.config);
  const issuerOrigin = new URL(deps.config.ISSUER).origin;

  // Tokens, refusals and unreadable bodies as JSON errors; anything else is a 500 without details.
  const answers = jsonApiErrors(realm);
  async function errors(ctx: Context, next: Next) {
    try {
      await answers(ctx, next);
    } catch (err) {
      // An unreachable store is the error boundary's: 503 with Retry-After, not a 500.
      if (storeOutage(err)) throw err;
      deps.logger.error({ err }, 'admin API request failed');
      ctx.status = 500;
      ctx.body = { error: 'server_error', error_description: 'something went wrong on our side' };
    }
  }

  /** Browsers attach Origin to cross-origin requests: only the issuer's own pages may call. */
  async function sameOrigin(ctx: Context, next: Next) {
    const origin = ctx.get('origin');
    if (origin && origin !== issuerOrigin) throw new ApiError(403, 'forbidden', 'cross-origin requests are refused');
    // A form post needs no CORS preflight; JSON does. Only JSON is accepted.
    if ((ctx.method === 'POST' || ctx.method === 'PATCH') && !ctx.is('application/json')) throw new ApiError(415, 'invalid_request', 'send the request body as application/json');
    await next();
  }

  async function principal(ctx: Context): Promise<AdminPrincipal> {
    const ip = ctx.state.clientIp as string;
    const limit = await deps.tokenLimiter.check(ip);
    if (limit.locked) throw new ApiError(429, 'too_many_requests', `too many refused access tokens from this address; try again in ${limit.retryAfterSeconds} s`, limit.retryAfterSeconds);
    try {
      const token = bearerToken(ctx);
      if (token === undefined) throw new BearerError(401, undefined, 'an access token for the admin API is required');
      return await authenticateAdmin(token, ip, deps, (actor) => { ctx.state[ADMIN_ACTOR] = actor; });
    } catch (err) {
      if (err instanceof BearerError && err.status === 401 && (err.error === 'invalid_token' || err.error === 'invalid_request')) await deps.tokenLimiter.fail(ip);
      throw err;
    }
  }

  const body = async <S extends z.ZodType>(ctx: Context, schema: S) => valid(schema, await readJson(ctx, BODY_LIMIT));

  router.use(auditAdminCalls('admin.api.call', deps.auditCall), errors, sameOrigin);

  router.get('/overview', async (ctx) => {
    await principal(ctx);
    valid(emptyBody, ctx.query);
    ctx.body = await service.overview();
  });

  router.get('/activity', async (ctx) => {
    await principal(ctx);
    const q = valid(activityQuery, ctx.query);
    ctx.body = await service.activity(q.window, q.until);
  });

  router.get('/sessions', async (ctx) => {
    await principal(ctx);
    const q = valid(sessionQuery, ctx.query);
    ctx.body = await service.sessions({
      limit: q.limit, cursor: q.cursor, accountId: q.account, clientId: q.client, riskLevel: q.risk, deviceId: q.device, country: q.country, since: q.since,
    });
  });

  router.get('/sessions/:uid', async (ctx) => {
    await principal(ctx);
    ctx.body = await service.session(valid(sessionUidSchema, ctx.params.uid, 'session'));
  });

  router.post('/sessions/:uid/revoke', async (ctx) => {
    const by = await principal(ctx);
    const { reason } = await body(ctx, reasonBody);
    ctx.body = revocationView(await service.revokeSession(by, ctx.params.uid, reason));
  });

  router.get('/accounts', async (ctx) => {
    await principal(ctx);
    const q = valid(accountQuery, ctx.query);
    ctx.body = await service.accounts({ limit: q.limit, cursor: q.cursor, query: q.q });
  });

  router.post('/accounts', async (ctx) => {
    const by = await principal(ctx);
    const { reason, ...account } = await body(ctx, newAccountBody);
    ctx.status = 201;
    ctx.body = await service.createAccount(by, account, reason);
  });

  router.patch('/accounts/:id', async (ctx) => {
    const by = await principal(ctx);
    const { reason, ...change } = await body(ctx, accountChangeBody);
    ctx.body = await service.updateAccount(by, ctx.params.id, change, reason);
  });

  router.get('/accounts/:id', async (ctx) => {
    await principal(ctx);
    ctx.body = await service.account(valid(accountIdSchema, ctx.params.id, 'account'));
  });

  router.post('/accounts/:id/sessions/revoke', async (ctx) => {
    const by = await principal(ctx);
    const { reason } = await body(ctx, reasonBody);
    ctx.body = revocationView(await service.revokeAccountSessions(by, ctx.params.id, reason));
  });

  for (const [verb, disabled] of [['disable', true], ['enable', false]] as const) {
    router.post(`/accounts/:id/${verb}`, async (ctx) => {
      const by = await principal(ctx);
      const { reason } = await body(ctx, reasonBody);
      ctx.body = await service.setAccountDisabled(by, ctx.params.id, disabled, reason);
    });
    router.post(`/clients/:id/${verb}`, async (ctx) => {
      const by = await principal(ctx);
      const { reason } = await body(ctx, reasonBody);
      ctx.body = await service.setClientDisabled(by, ctx.params.id, disabled, reason);
    });
  }

  router.post('/accounts/:id/roles', async (ctx) => {
    const by = await principal(ctx);
    const { reason, roles } = await body(ctx, rolesBody);
    ctx.body = await service.setAccountRoles(by, ctx.params.id, roles, reason);
  });

  router.post('/accounts/:id/step-up', async (ctx) => {
    const by = await principal(ctx);
    const { reason, acr } = await body(ctx, stepUpBody);
    ctx.body = await service.requireStepUp(by, ctx.params.id, acr ?? ACR.twoFactor, reason);
  });

  router.post('/accounts/:id/factors/reset', async (ctx) => {
    const by = await principal(ctx);
    const { reason } = await body(ctx, reasonBody);
    await service.resetSecondFactors(by, ctx.params.id, reason);
    ctx.body = { reset: true };
  });

  router.get('/invitations', async (ctx) => {
    await principal(ctx);
    const q = valid(invitationQuery, ctx.query);
    ctx.body = await service.invitations({ pending: q.status !== 'all' });
  });

  router.post('/invitations', async (ctx) => {
    const by = await principal(ctx);
    const { reason, ...invitation } = await body(ctx, newInvitationBody);
    ctx.status = 201;
    ctx.body = await service.invite(by, invitation, reason);
  });

  router.post('/invitations/:id/revoke', async (ctx) => {
    const by = await principal(ctx);
    const { reason } = await body(ctx, optionalReasonBody);
    ctx.body = await service.revokeInvitation(by, ctx.params.id, reason);
  });

  router.get('/clients', async (ctx) => {
    await principal(ctx);
    const q = valid(pageQuery, ctx.query);
    ctx.body = await service.clients({ limit: q.limit, cursor: q.cursor });
  });

  router.post('/clients', async (ctx) => {
    const by = await principal(ctx);
    const { reason, ...settings } = await body(ctx, newClientBody);
    ctx.status = 201;
    ctx.body = await service.createClient(by, withDefaults(settings), reason);
  });

  router.patch('/clients/:id', async (ctx) => {
    const by = await principal(ctx);
    const { reason, ...change } = await body(ctx, clientChangeBody);
    ctx.body = await service.updateClient(by, ctx.params.id, change, reason);
  });

  router.post('/registration-tokens', async (ctx) => {
    const by = await principal(ctx);
    const { reason, expiresIn } = await body(ctx, registrationTokenBody);
    ctx.status = 201;
    ctx.body = await service.createRegistrationToken(by, expiresIn ?? REGISTRATION_TOKEN_LIFETIME.default, reason);
  });

  router.get('/clients/:id', async (ctx) => {
    await principal(ctx);
    ctx.body = await service.client(valid(clientIdSchema, ctx.params.id, 'client'));
  });

  router.post('/clients/:id/tokens/revoke', async (ctx) => {
    const by = await principal(ctx);
    const { reason } = await body(ctx, reasonBody);
    ctx.body = revocationView(await service.revokeClientTokens(by, ctx.params.id, reason));
  });

  router.post('/clients/:id/secret/rotate', async (ctx) => {
    const by = await principal(ctx);
    await body(ctx, emptyBody);
    ctx.body = await service.rotateClientSecret(by, ctx.params.id);
  });

  router.get('/audit', async (ctx) => {
    await principal(ctx);
    const q = valid(auditQuery, ctx.query);
    ctx.body = await service.audit(q);
  });

  router.get('/risk-events', async (ctx) => {
    await principal(ctx);
    const q = valid(riskQuery, ctx.query);
    ctx.body = await service.riskEvents({
      limit: q.limit, cursor: q.cursor, accountId: q.account, clientId: q.client, level: q.level, decision: q.decision, from: q.from, to: q.to,
    });
  });

  router.get('/logouts', async (ctx) => {
    await principal(ctx);
    const q = valid(logoutQuery, ctx.query);
    ctx.body = await service.logouts(q);
  });

  router.get('/ssf-deliveries', async (ctx) => {
    await principal(ctx);
    const q = valid(ssfDeliveryQuery, ctx.query);
    ctx.body = await service.securityEventDeliveries(q);
  });

  router.get('/federation/providers', async (ctx) => {
    await principal(ctx);
    valid(emptyBody, ctx.query);
    ctx.body = { providers: deps.federationProviders ? await deps.federationProviders() : [] };
  });

  // Anything else under the prefix is a JSON 404 (not the provider's plain-text one).
  router.all('/{*rest}', () => {
    throw new AdminError(404, 'not_found', 'no such endpoint of the admin API');
  });

  return router;
}
