/**
 * /admin/api/elevations and eligibility (docs/admin-api.md): any person with an admin API token
 * asks for their own elevations and sees them; approvers approve and deny (the service checks the
 * role and the sign-in); administrators see all, revoke, and grant or withdraw eligibility.
 */
import type Router from '@koa/router';
import type { Context } from 'koa';
import { z } from 'zod';
import { BearerError } from '../http/bearer.ts';
import { ElevationError, type ElevationActor, type Elevations } from '../elevation/index.ts';
import type { PersonCaller } from './auth.ts';
import { elevationView } from './elevation-view.ts';
import { accountIdSchema, eligibilityBody, elevationIdSchema, elevationQuery, elevationRequestBody, optionalReasonBody, reasonBody } from './schemas.ts';
import { AdminError } from './types.ts';

export interface ElevationRouteHelpers {
  /** The person behind the bearer token (rate limited, audited). */
  person(ctx: Context): Promise<PersonCaller>;
  valid<S extends z.ZodType>(schema: S, value: unknown, notFound?: string): z.output<S>;
  body<S extends z.ZodType>(ctx: Context, schema: S): Promise<z.output<S>>;
}

export const actorOf = (p: PersonCaller): ElevationActor => ({
  accountId: p.accountId, actor: p.accountId, roles: p.roles, ...(p.acr ? { acr: p.acr } : {}), ...(p.authTime !== undefined ? { authTime: p.authTime } : {}), ip: p.ip,
});

/** The service's refusal as the API answers it: a too weak or too old sign-in is an RFC 9470 challenge. */
async function answering<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (err) {
    if (err instanceof ElevationError && err.status === 401) {
      throw new BearerError(401, 'insufficient_user_authentication', err.message, undefined, err.acrValues);
    }
    throw err;
  }
}

export function elevationApiRoutes(router: Router, elevations: Elevations, h: ElevationRouteHelpers): void {
  const writer = async (ctx: Context) => {
    const p = await h.person(ctx);
    if (!p.mayWrite) throw new AdminError(403, 'forbidden', 'this access token may only read (scope admin:read)');
    return p;
  };

  router.get('/elevations', async (ctx) => {
    const p = await h.person(ctx);
    const q = h.valid(elevationQuery, ctx.query);
    const items = await elevations.list(actorOf(p), { ...(q.status ? { status: q.status } : {}), ...(q.account ? { accountId: q.account } : {}), ...(q.limit ? { limit: q.limit } : {}) });
    ctx.body = { items: items.map((e) => elevationView(e)) };
  });

  router.post('/elevations', async (ctx) => {
    const p = await writer(ctx);
    const request = await h.body(ctx, elevationRequestBody);
    ctx.status = 201;
    ctx.body = elevationView(await answering(() => elevations.request(actorOf(p), request)));
  });

  router.get('/elevations/:id', async (ctx) => {
    const p = await h.person(ctx);
    ctx.body = elevationView(await elevations.find(actorOf(p), h.valid(elevationIdSchema, ctx.params.id, 'elevation')));
  });

  router.post('/elevations/:id/approve', async (ctx) => {
    const p = await writer(ctx);
    await h.body(ctx, optionalReasonBody);
    ctx.body = elevationView(await answering(() => elevations.approve(actorOf(p), h.valid(elevationIdSchema, ctx.params.id, 'elevation'))));
  });

  for (const verb of ['deny', 'revoke'] as const) {
    router.post(`/elevations/:id/${verb}`, async (ctx) => {
      const p = await writer(ctx);
      const { reason } = await h.body(ctx, reasonBody);
      const id = h.valid(elevationIdSchema, ctx.params.id, 'elevation');
      ctx.body = elevationView(await (verb === 'deny' ? elevations.deny(actorOf(p), id, reason) : elevations.revoke(actorOf(p), id, reason)));
    });
  }

  router.get('/accounts/:id/eligibility', async (ctx) => {
    const p = await h.person(ctx);
    const id = h.valid(accountIdSchema, ctx.params.id, 'account');
    if (id !== p.accountId && !p.roles.some((r) => r === 'admin' || r === 'auditor')) throw new AdminError(404, 'not_found', 'no such account');
    ctx.body = { accountId: id, roles: await elevations.eligibleRoles(id) };
  });

  router.post('/accounts/:id/eligibility', async (ctx) => {
    const p = await writer(ctx);
    const { role, reason } = await h.body(ctx, eligibilityBody);
    const id = h.valid(accountIdSchema, ctx.params.id, 'account');
    const changed = await elevations.grantEligibility(actorOf(p), id, role, reason);
    ctx.body = { accountId: id, role, eligible: true, changed };
  });

  router.delete('/accounts/:id/eligibility/:role', async (ctx) => {
    const p = await writer(ctx);
    const id = h.valid(accountIdSchema, ctx.params.id, 'account');
    const role = h.valid(eligibilityBody.shape.role, ctx.params.role, 'role');
    const changed = await elevations.withdrawEligibility(actorOf(p), id, role);
    ctx.body = { accountId: id, role, eligible: false, changed };
  });
}
