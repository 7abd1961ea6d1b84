/**
 * The console's elevation pages: requests waiting, elevations in force with their time left, the
 * history; approve, deny and revoke behind a confirmation page. An approval needs a sign-in as
 * strong and as fresh as the role asks (a passkey within ten minutes by default): the approval
 * page sends an older or weaker sign-in through the passkey step again first.
 */
import type Router from '@koa/router';
import type { Context } from 'koa';
import { acrLevel } from '../config/index.ts';
import type { FirstPartySignIn } from '../first-party/index.ts';
import { ElevationError, type Elevation, type ElevationActor, type Elevations } from '../elevation/index.ts';
import { ConsoleRefusal, parse, schemas } from './console-http.ts';
import type { ManageRouteDeps } from './console-manage-routes.ts';
import type { ConsoleUser } from './console-session.ts';
import { elevationView } from './elevation-view.ts';

export interface ElevationConsoleDeps extends Pick<ManageRouteDeps, 'gate' | 'page' | 'action'> {
  elevations: Elevations;
  signIn: FirstPartySignIn;
  /** The person's roles now (standing and elevated), for the sign-in they have. */
  rolesOf: (user: ConsoleUser) => Promise<string[]>;
}

const HISTORY = 50;

function timeLeft(seconds: number): string {
  const h = Math.floor(seconds / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  const s = seconds % 60;
  return h ? `${h} h ${m} min` : m ? `${m} min ${s} s` : `${s} s`;
}

export function addElevationRoutes(router: Router, deps: ElevationConsoleDeps): void {
  const { elevations, gate, page, action } = deps;
  // Approvers without an admin or auditor role come in here, and only here.
  const access = () => ({ approverRoles: elevations.approverRoles() });

  const actorOf = async (user: ConsoleUser, ctx: Context): Promise<ElevationActor> => ({
    accountId: user.account.id, actor: user.account.id, roles: await deps.rolesOf(user), acr: user.session.acr, authTime: user.session.authTime, ip: String(ctx.state.clientIp ?? ''),
  });
  const rows = (items: Elevation[]) => items.map((e) => {
    const v = elevationView(e);
    return { ...v, left: timeLeft(v.secondsLeft) };
  });

  router.get('/elevations', async (ctx) => {
    const user = await gate.require(ctx, access());
    if (!user) return;
    const by = await actorOf(user, ctx);
    const [pending, active, all] = await Promise.all([
      elevations.list(by, { status: 'pending' }), elevations.list(by, { status: 'active' }), elevations.list(by, { limit: HISTORY + 100 }),
    ]);
    const live = rows(active).filter((e) => e.status === 'active');
    const history = rows(all).filter((e) => e.status !== 'pending' && e.status !== 'active').slice(0, HISTORY);
    page(ctx, user, 'elevations.njk', { title: 'Elevations', nav: 'elevations', pending: rows(pending), active: live, history });
  });

  /** Whether the sign-in is strong and fresh enough to approve `e` (what the role asks). */
  const freshEnough = (user: ConsoleUser, e: Elevation) => {
    const rule = elevations.settings.roles.get(e.role);
    if (!rule || rule.approval === 'none') return { ok: true as const };
    const approval = rule.approval;
    const ok = acrLevel(user.session.acr) >= acrLevel(approval.acr) && Date.now() / 1000 - user.session.authTime <= approval.max_age_seconds;
    return ok ? { ok: true as const } : { ok: false as const, acr: approval.acr };
  };

  const verbs = {
    approve: { title: 'Approve this elevation?', button: 'Approve', danger: false, noReason: true },
    deny: { title: 'Deny this request?', button: 'Deny the request', danger: true, noReason: false },
    revoke: { title: 'End this elevation now?', button: 'End the elevation', danger: true, noReason: false },
  } as const;

  for (const [verb, words] of Object.entries(verbs) as [keyof typeof verbs, (typeof verbs)[keyof typeof verbs]][]) {
    router.get(`/elevations/:id/${verb}`, async (ctx) => {
      const user = await gate.require(ctx, access());
      if (!user) return;
      const e = await elevations.find(await actorOf(user, ctx), parse(schemas.id, ctx.params.id, 'Elevation'));
      if (verb === 'approve') {
        const fresh = freshEnough(user, e);
        // Approving asks for the sign-in again (with the passkey), then comes back here.
        if (!fresh.ok) return deps.signIn.start(ctx, { next: ctx.path, acrValues: fresh.acr, prompt: 'login' });
      }
      const v = elevationView(e);
      page(ctx, user, 'confirm.njk', {
        title: words.title, button: words.button, danger: words.danger, noReason: words.noReason, action: ctx.path, cancel: '/admin/elevations',
        summary: `${v.email} asks for ${v.role} for ${timeLeft(v.durationSeconds)}: “${v.reason}”.`,
        facts: [['Person', v.email], ['Role', v.role], ['Duration', timeLeft(v.durationSeconds)], ['Status', v.status], ['Approvals', `${v.approvals.length} of ${v.approvalsNeeded}`]],
      });
    });
    router.post(`/elevations/:id/${verb}`, async (ctx) => {
      const done = await action(ctx, access());
      if (!done) return;
      const id = parse(schemas.id, ctx.params.id, 'Elevation');
      const by = await actorOf(done.user, ctx);
      try {
        if (verb === 'approve') await elevations.approve(by, id);
        else {
          const { reason } = parse(schemas.reason, done.form, 'Reason');
          await (verb === 'deny' ? elevations.deny(by, id, reason) : elevations.revoke(by, id, reason));
        }
      } catch (err) {
        if (err instanceof ElevationError) {
          throw new ConsoleRefusal(err.status === 401 ? 403 : err.status, err.status === 401 ? 'Sign in again' : 'Not possible', err.message);
        }
        throw err;
      }
      ctx.status = 303;
      ctx.redirect(`/admin/elevations?done=elevation-${verb === 'approve' ? 'approved' : verb === 'deny' ? 'denied' : 'revoked'}`);
    });
  }
}
