/**
 * /admin: the admin console. Server-rendered pages over AdminOperations (the same service as the
 * admin API), behind a passkey sign-in through Vigil itself and the `admin` or `auditor` role.
 * Every change is a POST with the console's CSRF token from the console's own origin, asked for
 * on a confirmation page first, and made as the signed-in person.
 */
import type { FederationProviderView } from '../federation/index.ts';
import type { AuditEntry } from '../audit/index.ts';
import { auditAdminCalls } from './call-audit.ts';
import Router from '@koa/router';
import type { Context } from 'koa';
import type Provider from 'oidc-provider';
import type { Config } from '../config/index.ts';
import type { KeyRing } from '../crypto/index.ts';
import type { AccountStore } from '../identity/index.ts';
import type { Logger } from '../observability/index.ts';
import type { AdapterFactory } from '../store/index.ts';
import { readForm, renderPage, type Views } from '../http/index.ts';
import { FirstPartySignIn, FormTokens } from '../first-party/index.ts';
import { ADMIN_CONSOLE_APP } from './console-client.ts';
import { detailLines, utcMinute } from './console-format.ts';
import { activityBars, riskTimeline } from './console-charts.ts';
import { ACTIVITY_KINDS, ACTIVITY_LABELS } from './activity.ts';
import { ConsoleEvents, type RevocationFeed } from './console-events.ts';
import { checkSameOrigin, consoleBoundary, parse, queryOf, schemas } from './console-http.ts';
import { ConsoleGate, type ConsoleUser } from './console-session.ts';
import { AdminError, type AdminOperations, type SessionFilter } from './types.ts';
import { addManageRoutes } from './console-manage-routes.ts';

export interface AdminConsoleDeps {
  config: Config;
  provider: () => Provider;
  adapters: AdapterFactory;
  accounts: AccountStore;
  keys: KeyRing;
  views: Views;
  logger: Logger;
  admin: AdminOperations;
  revocations: RevocationFeed;
  /** Where the entry of every page and action goes (written behind). */
  auditCall: (entry: AuditEntry) => void;
  /** The upstream identity providers in force, with their last sign-in and last error. */
  federationProviders?: () => Promise<FederationProviderView[]>;
}

/** A console sign-in lasts a working day at most. */
const MAX_CONSOLE_SESSION = 8 * 3600;

/** What a finished action says on the page it leads to (by key: nothing from the URL is shown as is). */
const NOTICES = new Map(Object.entries({
  'session-revoked': 'The session was revoked. Its relying parties were told.',
  'account-sessions-revoked': 'Every session of the account was revoked.',
  'account-disabled': 'The account was disabled and its sessions ended.',
  'account-enabled': 'The account was enabled.',
  'client-disabled': 'The client was disabled.',
  'client-enabled': 'The client was enabled.',
  'account-created': 'The account was created.',
  'account-updated': 'The account was updated.',
  'client-updated': 'The client was updated.',
  'invitation-sent': 'The invitation was sent. The account appears here once the person has set it up.',
  'invitation-revoked': 'The invitation was revoked: its link no longer works.',
}));

/** A change behind a confirmation page: GET shows what will happen, POST does it. */
interface Confirmable {
  path: string;
  title: string;
  button: string;
  danger?: boolean;
  /** What the confirmation page says about the target (it also proves the target exists). */
  describe(id: string): Promise<{ summary: string; facts: [string, string][]; cancel: string }>;
  run(user: ConsoleUser, id: string, reason: string): Promise<unknown>;
  /** Where to go after, with its notice. */
  done(id: string): string;
}

/** The query string of `values` without empty ones. */
function queryString(values: Record<string, string | undefined>): string {
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(values)) if (v) params.set(k, v);
  const s = params.toString();
  return s ? `?${s}` : '';
}

/** The console's own page views in the audit trail: hidden unless asked for. */
const PAGE_VIEW = 'admin.console.call';
/** Page views show when ticked, or when the action filter names them (exactly or by a prefix). */
const showsPageViews = (input: { views?: boolean; action?: string }) =>
  input.views === true || (input.action !== undefined && (input.action === PAGE_VIEW || (input.action.endsWith('.') && PAGE_VIEW.startsWith(input.action))));

const isoMinute = (d: Date | undefined) => (d ? d.toISOString().slice(0, 16) : undefined);

export function adminConsoleRoutes(deps: AdminConsoleDeps): Router {
  const { admin, views } = deps;
  const router = new Router({ prefix: '/admin' });
  const signIn = new FirstPartySignIn(deps, ADMIN_CONSOLE_APP, 'vigil.admin');
  const forms = new FormTokens(deps.keys, 'admin-console-csrf');
  const gate = new ConsoleGate({ signIn, forms, views });
  const events = new ConsoleEvents(deps.revocations);
  const issuerOrigin = new URL(deps.config.ISSUER).origin;

  // The live feed and the overview's polling are not views a person asked for; sign-in is audited by the provider's own events.
  const unaudited = new Set(['/admin/events', '/admin/overview.json', '/admin/login', '/admin/callback', '/admin/signed-out']);
  router.use(auditAdminCalls(PAGE_VIEW, deps.auditCall, (path) => unaudited.has(path)), consoleBoundary(views, deps.logger));

  const page = (ctx: Context, user: ConsoleUser, template: string, vars: Record<string, unknown>, status = 200) => {
    const done = typeof ctx.query.done === 'string' ? NOTICES.get(ctx.query.done) : undefined;
    renderPage(ctx, views, `admin/${template}`, {
      ...vars, user: { email: user.account.email, role: user.role }, canAct: user.role === 'admin', csrf: user.csrf, notice: done,
      ownSession: user.session.sessionUid,
    }, status);
  };

  /** A console POST: same origin, signed in, the right CSRF token, an administrator; the form read and checked. */
  async function action(ctx: Context): Promise<{ user: ConsoleUser; form: Record<string, string> } | undefined> {
    checkSameOrigin(ctx, issuerOrigin);
    const user = await gate.require(ctx);
    if (!user) return undefined;
    const form = await readForm(ctx);
    forms.check(user.session, form.csrf);
    return { user, form };
  }

  // Creating and editing (before the pages by id: /accounts/new is not an account).
  addManageRoutes(router, { admin, gate, page, action });

  // Sign-in and sign-out.
  router.get('/login', (ctx) => signIn.start(ctx, { next: '/admin', acrValues: ADMIN_CONSOLE_APP.acr }));
  router.get('/callback', async (ctx) => {
    await signIn.complete(ctx, MAX_CONSOLE_SESSION);
  });
  router.get('/signed-out', (ctx) => renderPage(ctx, views, 'logged-out.njk', { title: 'Signed out' }));
  router.post('/logout', async (ctx) => {
    const done = await action(ctx);
    if (done) signIn.signOut(ctx);
  });

  // Overview.
  async function overviewData() {
    const [overview, failed, failedEvents, day, week] = await Promise.all([
      admin.overview(), admin.logouts({ status: 'failed', limit: 20 }), admin.securityEventDeliveries({ status: 'failed', limit: 20 }),
      admin.activity('day'), admin.activity('week'),
    ]);
    // Each card links to the audit trail filtered to exactly what it counts (the same kind, the same time span).
    const listOf = (kind: string, report: typeof day) => `/admin/audit${queryString({ kind, from: isoMinute(new Date(report.from)), to: isoMinute(new Date(report.to)) })}`;
    const activity = ACTIVITY_KINDS.map((kind) => ({
      kind, title: ACTIVITY_LABELS[kind].title, counts: ACTIVITY_LABELS[kind].counts,
      day: { total: day.series.find((s) => s.kind === kind)!.total, href: listOf(kind, day), chart: activityBars(day, kind) },
      week: { total: week.series.find((s) => s.kind === kind)!.total, href: listOf(kind, week), chart: activityBars(week, kind) },
    }));
    return { overview, failed: failed.items, failedEvents: failedEvents.items, activity, activitySpan: { day, week } };
  }
  router.get('/', async (ctx) => {
    const user = await gate.require(ctx);
    if (user) page(ctx, user, 'overview.njk', { title: 'Overview', nav: 'overview', ...(await overviewData()) });
  });
  router.get('/overview.json', async (ctx) => {
    const user = await gate.require(ctx);
    if (!user) return;
    ctx.set('Cache-Control', 'no-store');
    ctx.body = await admin.overview();
  });

  // Sessions.
  router.get('/sessions', async (ctx) => {
    const user = await gate.require(ctx);
    if (!user) return;
    const input = parse(schemas.sessionFilter, queryOf(ctx), 'Session filter');
    const filter: SessionFilter = { cursor: input.cursor, clientId: input.client, riskLevel: input.level, country: input.country, since: input.since };
    let unknownAccount = false;
    if (input.account?.includes('@')) {
      const found = await deps.accounts.findByEmail(input.account);
      if (found) filter.accountId = found.id;
      else unknownAccount = true;
    } else if (input.account) {
      filter.accountId = parse(schemas.id, input.account, 'Account');
    }
    const sessions = unknownAccount ? { items: [] } : await admin.sessions(filter);
    const shown = { account: input.account, client: input.client, level: input.level, country: input.country, since: isoMinute(input.since) };
    page(ctx, user, 'sessions.njk', {
      title: 'Sessions', nav: 'sessions', sessions: sessions.items, filter: shown, unknownAccount,
      nextPage: sessions.next ? `/admin/sessions${queryString({ ...shown, cursor: sessions.next })}` : undefined,
    });
  });
  router.get('/sessions/:uid', async (ctx) => {
    const user = await gate.require(ctx);
    if (!user) return;
    const session = await admin.session(parse(schemas.id, ctx.params.uid, 'Session'));
    page(ctx, user, 'session.njk', { title: `Session of ${session.email}`, nav: 'sessions', session, riskChart: riskTimeline(session.riskHistory, session.riskThresholds) });
  });

  // Accounts.
  router.get('/accounts', async (ctx) => {
    const user = await gate.require(ctx);
    if (!user) return;
    const input = parse(schemas.accountFilter, queryOf(ctx), 'Account search');
    const [accounts, invitations] = await Promise.all([admin.accounts({ query: input.query, cursor: input.cursor }), admin.invitations({ pending: true })]);
    page(ctx, user, 'accounts.njk', {
      title: 'Accounts', nav: 'accounts', accounts: accounts.items, query: input.query, invitations: invitations.items,
      nextPage: accounts.next ? `/admin/accounts${queryString({ query: input.query, cursor: accounts.next })}` : undefined,
    });
  });
  router.get('/accounts/:id', async (ctx) => {
    const user = await gate.require(ctx);
    if (!user) return;
    const account = await admin.account(parse(schemas.id, ctx.params.id, 'Account'));
    page(ctx, user, 'account.njk', { title: account.email, nav: 'accounts', account });
  });

  // Clients.
  router.get('/clients', async (ctx) => {
    const user = await gate.require(ctx);
    if (!user) return;
    const input = parse(schemas.page, queryOf(ctx), 'Client list');
    const clients = await admin.clients({ cursor: input.cursor });
    page(ctx, user, 'clients.njk', {
      title: 'Clients', nav: 'clients', clients: clients.items,
      nextPage: clients.next ? `/admin/clients${queryString({ cursor: clients.next })}` : undefined,
    });
  });

  // Federation: the upstream identity providers (read-only: they are configured in their file).
  router.get('/federation', async (ctx) => {
    const user = await gate.require(ctx);
    if (!user) return;
    const providers = deps.federationProviders ? await deps.federationProviders() : [];
    page(ctx, user, 'federation.njk', { title: 'Federation', nav: 'federation', providers, configured: deps.config.VIGIL_FEDERATION_FILE !== undefined });
  });

  // Audit trail.
  router.get('/audit', async (ctx) => {
    const user = await gate.require(ctx);
    if (!user) return;
    const input = parse(schemas.auditFilter, queryOf(ctx), 'Audit filter');
    const { views: showViews, ...filter } = input;
    const entries = await admin.audit({ ...filter, ...(showsPageViews(input) ? {} : { excludeActions: [PAGE_VIEW] }) });
    const shown = { from: isoMinute(input.from), to: isoMinute(input.to), actor: input.actor, subject: input.subject, action: input.action, kind: input.kind, views: showViews ? '1' : undefined };
    page(ctx, user, 'audit.njk', {
      kinds: ACTIVITY_KINDS.map((k) => ({ value: k, title: ACTIVITY_LABELS[k].title, counts: ACTIVITY_LABELS[k].counts })),
      title: 'Audit trail', nav: 'audit', entries: entries.items.map((e) => ({ ...e, detailLines: detailLines(e.details) })), filter: shown,
      nextPage: entries.next ? `/admin/audit${queryString({ ...shown, cursor: entries.next })}` : undefined,
    });
  });

  // Live updates.
  router.get('/events', async (ctx) => {
    const user = await gate.require(ctx);
    if (!user) return;
    events.stream(ctx, () => gate.access(ctx).then((a) => a.ok));
  });

  // Changes, each behind a confirmation page.
  const confirmables: Confirmable[] = [
    {
      path: '/sessions/:id/revoke', title: 'Revoke this session?', button: 'Revoke the session', danger: true,
      async describe(id) {
        const s = await admin.session(id);
        return {
          summary: `${s.email} will be signed out on this device, and every relying party of the session (${s.clients.map((c) => s.clientNames[c] ?? c).join(', ') || 'none'}) will be told.`,
          facts: [['Account', s.email], ['Device', s.device], ['Address', s.ip], ['Clients', s.clients.map((c) => s.clientNames[c] ?? c).join(', ') || '—'], ['Last seen', utcMinute(s.lastSeenAt)]], cancel: '/admin/sessions',
        };
      },
      run: (user, id, reason) => admin.revokeSession(user.principal, id, reason),
      done: () => '/admin/sessions?done=session-revoked',
    },
    {
      path: '/accounts/:id/revoke-sessions', title: 'Revoke every session of this account?', button: 'Revoke all sessions', danger: true,
      async describe(id) {
        const a = await admin.account(id);
        return { summary: `${a.email} will be signed out everywhere (${a.sessions.length} session(s)), and every grant and token will end.`, facts: [['Account', a.email]], cancel: `/admin/accounts/${encodeURIComponent(id)}` };
      },
      run: (user, id, reason) => admin.revokeAccountSessions(user.principal, id, reason),
      done: (id) => `/admin/accounts/${encodeURIComponent(id)}?done=account-sessions-revoked`,
    },
    {
      path: '/accounts/:id/disable', title: 'Disable this account?', button: 'Disable the account', danger: true,
      async describe(id) {
        const a = await admin.account(id);
        return { summary: `${a.email} will not be able to sign in, and every session and token of the account will end.`, facts: [['Account', a.email]], cancel: `/admin/accounts/${encodeURIComponent(id)}` };
      },
      run: (user, id, reason) => admin.setAccountDisabled(user.principal, id, true, reason),
      done: (id) => `/admin/accounts/${encodeURIComponent(id)}?done=account-disabled`,
    },
    {
      path: '/accounts/:id/enable', title: 'Enable this account?', button: 'Enable the account',
      async describe(id) {
        const a = await admin.account(id);
        return { summary: `${a.email} will be able to sign in again.`, facts: [['Account', a.email]], cancel: `/admin/accounts/${encodeURIComponent(id)}` };
      },
      run: (user, id, reason) => admin.setAccountDisabled(user.principal, id, false, reason),
      done: (id) => `/admin/accounts/${encodeURIComponent(id)}?done=account-enabled`,
    },
    {
      path: '/clients/:id/disable', title: 'Disable this client?', button: 'Disable the client', danger: true,
      async describe(id) {
        const c = await admin.client(id);
        return { summary: `${c.name} will get no more tokens, and the tokens it holds will stop working.`, facts: [['Client', c.name], ['Client id', c.clientId]], cancel: '/admin/clients' };
      },
      run: (user, id, reason) => admin.setClientDisabled(user.principal, id, true, reason),
      done: () => '/admin/clients?done=client-disabled',
    },
    {
      path: '/clients/:id/enable', title: 'Enable this client?', button: 'Enable the client',
      async describe(id) {
        const c = await admin.client(id);
        return { summary: `${c.name} will be able to get tokens again.`, facts: [['Client', c.name], ['Client id', c.clientId]], cancel: '/admin/clients' };
      },
      run: (user, id, reason) => admin.setClientDisabled(user.principal, id, false, reason),
      done: () => '/admin/clients?done=client-enabled',
    },
    {
      path: '/invitations/:id/revoke', title: 'Revoke this invitation?', button: 'Revoke the invitation', danger: true,
      async describe(id) {
        const i = (await admin.invitations({ pending: true })).items.find((x) => x.id === id);
        if (!i) throw new AdminError(404, 'not_found', 'no such pending invitation');
        return { summary: `The link mailed to ${i.email} will stop working at once.`, facts: [['Email', i.email], ['Expires', utcMinute(i.expiresAt)]], cancel: '/admin/accounts' };
      },
      run: (user, id, reason) => admin.revokeInvitation(user.principal, id, reason),
      done: () => '/admin/accounts?done=invitation-revoked',
    },
  ];
  for (const c of confirmables) {
    router.get(c.path, async (ctx) => {
      const user = await gate.require(ctx);
      if (!user) return;
      gate.requireAdmin(user);
      const id = parse(schemas.id, ctx.params.id, 'Target');
      page(ctx, user, 'confirm.njk', { title: c.title, button: c.button, danger: c.danger, action: ctx.path, ...(await c.describe(id)) });
    });
    router.post(c.path, async (ctx) => {
      const done = await action(ctx);
      if (!done) return;
      gate.requireAdmin(done.user);
      const id = parse(schemas.id, ctx.params.id, 'Target');
      const { reason } = parse(schemas.reason, done.form, 'Reason');
      await c.run(done.user, id, reason);
      ctx.status = 303;
      ctx.redirect(c.done(id));
    });
  }

  return router;
}
