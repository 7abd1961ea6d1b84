/**
 * What administrators do, for the admin API and the console alike: read sessions, accounts,
 * clients, the audit trail and risk events; revoke, disable, demand step-up, reset factors,
 * rotate secrets. Every change checks the role (auditors read only), checks the id, goes
 * through `revocations` when it ends anything, and is audited with its outcome, refusals too.
 */
import { credentialChange, passkeyCredentialType } from '../ssf/index.ts';
import { randomBytes } from 'node:crypto';
import { ACR_VALUES, type AcrValue } from '../config/index.ts';
import type { Core } from '../core.ts';
import { evaluatePosture, type PosturePolicy } from '../devices/index.ts';
import { describeUserAgent, parseUserAgent, tablesFor, type RiskPolicy } from '../risk/index.ts';
import { ACTIVITY_KINDS, ACTIVITY_LABELS, activityBuckets, type ActivityWindow } from './activity.ts';
import { requirePersonStepUp, type LogoutDelivery, type RevocationCause, type RevocationEvent } from '../sessions/index.ts';
import { CLIENT_DISABLED, type Payload } from '../store/index.ts';
import { InvitationError, invitationView, type InvitationView } from '../invitations/index.ts';
import { AccountError, changeProfile, changeRoles, disableAccount, emailSchema, roleSchema, type Account } from '../identity/index.ts';
import { ClientSettingsError, createRegistrationToken, registerClient, settingsOf, updateClient, type ClientRegistration, type ClientSettings } from '../oidc/index.ts';
import type Provider from 'oidc-provider';
import { clientSettingsDeps } from './client-settings-deps.ts';
import type { EventDelivery } from '../ssf/index.ts';
import { decodeCursor, DIGITS, encodeCursor, pageSize, toPage } from './paging.ts';
import { AdminQueries, needsScanLimit, type RiskRow, type SessionRow } from './queries.ts';
import { ACCOUNT_ID, AUDIT_ACTION, CLIENT_ID, SESSION_UID } from './schemas.ts';
import {
  AdminError,
  type AccountChange, type AccountDetail, type NewInvitation, type AccountSummary, type ClientChangeResult, type ClientDetail, type NewAccount, type RegistrationToken, type AdminOperations, type AdminPrincipal, type AuditEntryView, type AuditFilter, type AuditName, type EventDeliveryView, type LogoutDeliveryView, type ClientSummary,
  type ActivityReport, type RiskThreshold, type Overview, type Page, type PageRequest, type RiskEventSummary, type RiskFilter, type SessionDetail, type SessionFilter, type SessionSummary, type StepUpResult,
} from './types.ts';

export type AdminCore = Pick<Core, 'invitations' | 'config' | 'resourceServers' | 'stores' | 'accounts' | 'audit' | 'adapters' | 'revocations' | 'stepUps' | 'totp' | 'recovery' | 'passkeys' | 'devices' | 'logoutOutbox' | 'ssf'>;

export interface AdminServiceOptions {
  /** The posture policy in force (devices show as compliant or not); without it, compliance is unknown. */
  posturePolicy?: () => PosturePolicy;
  /** The risk policy in force (its thresholds are marked on a session's risk timeline); without it, none are. */
  riskPolicy?: () => RiskPolicy;
  /** Epoch ms; tests may pin it. */
  now?: () => number;
  /** The password step's window and account-wide failure limit, to show accounts under attack. */
  loginLimits?: { windowSeconds: number; accountAttackFailures: number };
  /** The running provider: clients are checked with its schema, registration tokens made with it. */
  provider?: () => Provider;
}

const NO_LOGIN_LIMITS = { windowSeconds: 900, accountAttackFailures: 20 };

interface LiveSession {
  jti?: string;
  authorizations?: Record<string, unknown>;
  acr?: string;
  amr?: string[];
}

/** Client names by id, looked up once for a page. */
type ClientNames = ReadonlyMap<string, string>;

/** How many batches one session page may read while skipping ended or filtered-out sessions. */
const MAX_SESSION_BATCHES = 10;
/**
 * The sessions one batch looks at for a filter no index serves (country, device): a page reads at
 * most 10 × 2,000 sessions, then answers short with a cursor to go on from.
 */
const SESSION_SCAN_LIMIT = 2000;
const DAY_MS = 86_400_000;

/** An account the store refused: an email already taken is a conflict, anything else bad input. */
const accountRefusal = (err: unknown): never => {
  if (err instanceof AccountError) throw new AdminError(err.kind === 'taken' ? 409 : 400, err.kind === 'taken' ? 'conflict' : 'invalid_request', err.message);
  throw err;
};
const clientRefusal = (err: unknown): never => {
  if (err instanceof ClientSettingsError) throw new AdminError(400, 'invalid_request', err.message);
  throw err;
};

const notFound = (what: string) => new AdminError(404, 'not_found', `no such ${what}`);
/** A route parameter as the audit trail keeps it, even when it is not a valid id: no control characters. */
const printable = (value: string) => value.replace(/\p{Cc}/gu, '?');

const checkId = (value: string, pattern: RegExp, what: string) => {
  if (typeof value !== 'string' || !pattern.test(value)) throw notFound(what);
};
const iso = (d: Date) => d.toISOString();
const placeOf = (p: { country?: string; region?: string; city?: string } | null) =>
  p && { ...(p.country ? { country: p.country } : {}), ...(p.region ? { region: p.region } : {}), ...(p.city ? { city: p.city } : {}) };

export class AdminService implements AdminOperations {
  readonly #core: AdminCore;
  readonly #q: AdminQueries;
  readonly #posture: (() => PosturePolicy) | undefined;
  readonly #riskPolicy: (() => RiskPolicy) | undefined;
  readonly #now: () => number;
  readonly #loginLimits: { windowSeconds: number; accountAttackFailures: number };
  readonly #providerOf: (() => Provider) | undefined;

  constructor(core: AdminCore, options: AdminServiceOptions = {}) {
    this.#core = core;
    this.#q = new AdminQueries(core.stores.sql);
    this.#posture = options.posturePolicy;
    this.#riskPolicy = options.riskPolicy;
    this.#now = options.now ?? Date.now;
    this.#loginLimits = options.loginLimits ?? NO_LOGIN_LIMITS;
    this.#providerOf = options.provider;
  }

  #loginWindowStart(): Date {
    return new Date(this.#now() - this.#loginLimits.windowSeconds * 1000);
  }

  // ---- reading --------------------------------------------------------------------------------

  async overview(): Promise<Overview> {
    const since = new Date(this.#now() - DAY_MS);
    const [activeSessions, sessionsByRisk, decisions, revocations, logouts, securityEvents, accountsUnderAttack] = await Promise.all([
      this.#q.activeSessionCount(), this.#q.sessionRiskCounts(), this.#q.decisionCounts(since), this.#q.revocationCount(since), this.#core.logoutOutbox.counts(since.getTime()),
      this.#core.ssf.outbox.counts(since.getTime()), this.#q.accountsUnderAttack(this.#loginWindowStart(), this.#loginLimits.accountAttackFailures, 20),
    ]);
    return { activeSessions, sessionsByRisk, last24h: { decisions, revocations, logouts, securityEvents }, accountsUnderAttack };
  }

  async activity(window: ActivityWindow, until: Date = new Date(this.#now())): Promise<ActivityReport> {
    const span = activityBuckets(window, until.getTime());
    const rows = await this.#q.activityCounts(span.from, span.to, span.stepMs);
    const counts = new Map(rows.map((r) => [`${r.kind} ${r.bucket.getTime()}`, r.n]));
    return {
      window, bucket: window === 'day' ? 'hour' : 'day', from: iso(span.from), to: iso(span.to),
      series: ACTIVITY_KINDS.map((kind) => {
        const buckets = span.starts.map((start) => ({ start: iso(start), count: counts.get(`${kind} ${start.getTime()}`) ?? 0 }));
        return { kind, label: ACTIVITY_LABELS[kind].title, total: buckets.reduce((n, b) => n + b.count, 0), buckets };
      }),
    };
  }

  /**
   * Live sessions, last seen first. The activity table may still hold sessions that expired or
   * ended elsewhere: each is checked against the session store, and the ended ones are forgotten.
   */
  async sessions(filter: SessionFilter): Promise<Page<SessionSummary>> {
    const limit = pageSize(filter);
    let after = decodeCursor(filter.cursor, [DIGITS, SESSION_UID]);
    const query = {
      ...(filter.accountId !== undefined ? { accountId: filter.accountId } : {}),
      ...(filter.riskLevel !== undefined ? { riskLevel: filter.riskLevel } : {}),
      ...(filter.deviceId !== undefined ? { deviceId: filter.deviceId } : {}),
      ...(filter.country !== undefined ? { country: filter.country } : {}),
      ...(filter.since !== undefined ? { since: filter.since } : {}),
    };
    const shown: SessionSummary[] = [];
    const keys: string[][] = [];
    for (let batch = 0; batch < MAX_SESSION_BATCHES; batch++) {
      const edge = needsScanLimit(query) ? await this.#q.sessionScanEdge(query, after, SESSION_SCAN_LIMIT) : undefined;
      const rows = await this.#q.sessions(edge ? { ...query, through: edge } : query, after, limit + 1);
      for (const { row, summary } of await this.#alive(rows)) {
        if (filter.clientId !== undefined && !summary.clients.includes(filter.clientId)) continue;
        shown.push(summary);
        keys.push([row.seenKey, row.sessionUid]);
      }
      // Where the walk goes on: after this batch's rows, or after the sessions it looked at.
      const last = rows.length > limit ? [rows[rows.length - 1].seenKey, rows[rows.length - 1].sessionUid] : edge;
      if (!last || shown.length > limit) break;
      after = last;
      // Out of batches: a short page, and the walk goes on from where this one stopped.
      if (batch === MAX_SESSION_BATCHES - 1) return { items: await this.#named(shown), next: encodeCursor(last) };
    }
    const page = toPage(shown.map((s, i) => ({ s, key: keys[i] })), limit, (x) => x.s, (x) => x.key);
    return { ...page, items: await this.#named(page.items) };
  }

  async session(uid: string): Promise<SessionDetail> {
    checkId(uid, SESSION_UID, 'session');
    const [found] = await this.#alive(await this.#q.sessions({ uid }, undefined, 1));
    if (!found) throw notFound('session');
    const history = await this.#q.riskEvents({ sessionUid: uid }, undefined, 50);
    const { clients } = await this.#q.names([...found.summary.clients, ...history.map((r) => r.clientId)]);
    return { ...withClientNames(found.summary, clients), riskHistory: history.map((r) => riskEventView(r, clients)), riskThresholds: this.#thresholds(history) };
  }

  async accounts(filter: PageRequest & { query?: string }): Promise<Page<AccountSummary>> {
    const limit = pageSize(filter);
    const rows = await this.#q.accounts(filter.query, decodeCursor(filter.cursor, [/^[^\p{Cc}]{1,254}$/u]), limit + 1);
    const page = toPage(rows, limit, accountView, (r) => [r.email.toLowerCase()]);
    const activity = await this.#q.accountActivity(page.items.map((a) => a.id));
    return {
      ...page,
      items: page.items.map((a) => {
        const found = activity.get(a.id);
        return { ...a, lastSignInAt: found?.lastSignInAt ? iso(found.lastSignInAt) : null, factorStatus: { totp: found?.totp ?? false, passkeys: found?.passkeys ?? 0 } };
      }),
    };
  }

  async account(id: string): Promise<AccountDetail> {
    const account = await this.#account(id);
    const { totp, passkeys, recovery, devices } = this.#core;
    const [sessions, deviceList, hasTotp, keys, codesLeft, timeline, owed, failures] = await Promise.all([
      this.sessions({ accountId: id, limit: 200 }), devices.list(id), totp.isEnrolled(id), passkeys.list(id), recovery.remaining(id),
      this.#q.riskEvents({ accountId: id }, undefined, 50), this.#q.stepUpsOwed(id), this.#q.signInFailures(id, this.#loginWindowStart(), 50),
    ]);
    const failed = failures.reduce((n, f) => n + f.failures, 0);
    const { clients: clientNames } = await this.#q.names(timeline.map((r) => r.clientId));
    const policy = this.#posture?.();
    return {
      ...accountView(account),
      sessions: sessions.items,
      devices: deviceList.map((d) => ({
        id: d.id, name: d.name,
        compliant: policy ? evaluatePosture(d.lastReport, d.lastReportAt, this.#now(), policy, d.externalCompliance).compliant : null,
        lastReportAt: d.lastReportAt === undefined ? null : new Date(d.lastReportAt).toISOString(),
      })),
      factors: { totp: hasTotp, passkeys: keys.map((k) => ({ id: k.id, name: k.name, createdAt: iso(k.createdAt) })), recoveryCodesLeft: codesLeft },
      riskTimeline: timeline.map((r) => riskEventView(r, clientNames)),
      stepUpRequired: owed.map((o) => ({ acr: o.acr, reason: o.reason, since: iso(o.since), session: o.sessionUid, metAt: o.metAt ? iso(o.metAt) : null })),
      signInFailures: {
        windowSeconds: this.#loginLimits.windowSeconds,
        underAttack: failed >= this.#loginLimits.accountAttackFailures,
        total: failed,
        byAddress: failures.map((f) => ({ ...f, lastAt: iso(f.lastAt) })),
      },
    };
  }

  async clients(filter: PageRequest): Promise<Page<ClientSummary>> {
    const limit = pageSize(filter);
    const rows = await this.#q.clients(decodeCursor(filter.cursor, [CLIENT_ID]), limit + 1);
    return toPage(rows, limit, (r) => clientView(r.id, r.metadata), (r) => [r.id]);
  }

  async client(id: string): Promise<ClientDetail> {
    const metadata = await this.#clientMetadata(id);
    return { ...clientView(id, metadata), settings: settingsOf(metadata, await this.#core.resourceServers.forClient(id)) };
  }

  async audit(filter: AuditFilter): Promise<Page<AuditEntryView>> {
    const limit = pageSize(filter);
    if (filter.action !== undefined && !AUDIT_ACTION.test(filter.action)) throw new AdminError(400, 'invalid_request', 'action is an action name, or a prefix ending in "."');
    const rows = await this.#q.audit(filter, decodeCursor(filter.cursor, [DIGITS]), limit + 1);
    const page = toPage(rows, limit, (r) => ({ ...r, at: iso(r.at) }), (r) => [r.seq]);
    const names = await this.#q.names(page.items.flatMap((e) => (e.subject ? [e.actor, e.subject] : [e.actor])));
    const nameOf = (id: string | null): AuditName | undefined => {
      if (id === null) return undefined;
      const account = names.accounts.get(id);
      if (account !== undefined) return { kind: 'account', name: account };
      const client = names.clients.get(id);
      return client === undefined ? undefined : { kind: 'client', name: client };
    };
    return {
      ...page,
      items: page.items.map((e) => {
        const actorName = nameOf(e.actor);
        const subjectName = nameOf(e.subject);
        return { ...e, ...(actorName ? { actorName } : {}), ...(subjectName ? { subjectName } : {}) };
      }),
    };
  }

  async riskEvents(filter: RiskFilter): Promise<Page<RiskEventSummary>> {
    const limit = pageSize(filter);
    const rows = await this.#q.riskEvents(filter, decodeCursor(filter.cursor, [DIGITS]), limit + 1);
    const { clients } = await this.#q.names(rows.map((r) => r.clientId));
    return toPage(rows, limit, (r) => riskEventView(r, clients), (r) => [r.id]);
  }

  async logouts(filter: PageRequest & { status?: LogoutDelivery['status'] }): Promise<Page<LogoutDeliveryView>> {
    const limit = pageSize(filter);
    const rows = await this.#q.logouts(filter.status, decodeCursor(filter.cursor, [DIGITS]), limit + 1);
    const names = await this.#q.names(rows.flatMap((r) => [r.clientId, r.accountId]));
    return toPage(rows, limit, (r) => ({ ...r, clientName: names.clients.get(r.clientId) ?? r.clientId, email: names.accounts.get(r.accountId) ?? null }), (r) => [r.id]);
  }

  /** Shared Signals SETs owed to relying parties' streams, newest first (e.g. the failed ones). */
  async securityEventDeliveries(filter: PageRequest & { status?: EventDelivery['status'] }): Promise<Page<EventDeliveryView>> {
    const limit = pageSize(filter);
    const before = decodeCursor(filter.cursor, [DIGITS])?.[0];
    const rows = await this.#core.ssf.outbox.list({ ...(filter.status ? { status: filter.status } : {}), limit: limit + 1, ...(before ? { before } : {}) });
    const { clients } = await this.#q.names(rows.map((r) => r.clientId));
    return toPage(rows, limit, (r) => ({ ...r, clientName: clients.get(r.clientId) ?? r.clientId }), (r) => [r.id]);
  }

  // ---- changing -------------------------------------------------------------------------------

  revokeSession(by: AdminPrincipal, uid: string, reason: string): Promise<RevocationEvent> {
    return this.#act(by, 'session.revoke', uid, { reason }, async () => {
      checkId(uid, SESSION_UID, 'session');
      const event = await this.#core.revocations.session(uid, this.#cause(by, reason));
      if (!event) throw notFound('session');
      return { result: event, details: { account: event.accountId ?? null, grants: event.grants.length } };
    });
  }

  revokeAccountSessions(by: AdminPrincipal, accountId: string, reason: string): Promise<RevocationEvent> {
    return this.#act(by, 'account.sessions.revoke', accountId, { reason }, async () => {
      await this.#account(accountId);
      const event = await this.#core.revocations.account(accountId, this.#cause(by, reason));
      return { result: event, details: { sessions: event.sessions.length, grants: event.grants.length } };
    });
  }

  revokeClientTokens(by: AdminPrincipal, clientId: string, reason: string): Promise<RevocationEvent> {
    return this.#act(by, 'client.tokens.revoke', clientId, { reason }, async () => {
      await this.#clientMetadata(clientId);
      return { result: await this.#core.revocations.client(clientId, this.#cause(by, reason)) };
    });
  }

  setAccountDisabled(by: AdminPrincipal, id: string, disabled: boolean, reason: string): Promise<AccountSummary> {
    return this.#act(by, disabled ? 'account.disable' : 'account.enable', id, { reason }, async () => {
      const account = await this.#account(id);
      if (disabled && by.kind === 'person' && by.accountId === id) throw new AdminError(409, 'conflict', 'administrators cannot disable their own account');
      if (!disabled) {
        const enabled = await this.#core.accounts.setDisabled(account.email, false);
        if (!enabled) throw notFound('account');
        return { result: accountView(enabled), details: {} };
      }
      // A disabled account keeps nothing: its sessions, grants and tokens end now.
      const done = await disableAccount({ accounts: this.#core.accounts, revocations: this.#core.revocations, securityEvents: this.#core.ssf.outbox }, account.email, this.#cause(by, reason));
      if (!done) throw notFound('account');
      return { result: accountView(done.account), details: { sessions: done.sessions, grants: done.grants } };
    });
  }

  /** The roles claim changes in tokens issued from now on; the account's streams get a CAEP token-claims-change. */
  setAccountRoles(by: AdminPrincipal, id: string, roles: string[], reason: string): Promise<AccountSummary & { previousRoles: string[] }> {
    return this.#act(by, 'account.roles', id, { reason, roles }, async () => {
      await this.#account(id);
      if (by.kind === 'person' && by.accountId === id && !roles.includes(by.role)) {
        throw new AdminError(409, 'conflict', `administrators cannot remove their own ${by.role} role`);
      }
      const done = await changeRoles({ accounts: this.#core.accounts, securityEvents: this.#core.ssf.outbox }, id, roles, 'admin', reason);
      if (!done) throw notFound('account');
      return { result: { ...accountView(done.account), previousRoles: done.previous }, details: { previous: done.previous, changed: done.changed } };
    });
  }

  requireStepUp(by: AdminPrincipal, id: string, acr: string, reason: string): Promise<StepUpResult> {
    return this.#act(by, 'account.step_up', id, { reason, acr }, async () => {
      if (!ACR_VALUES.includes(acr as AcrValue)) throw new AdminError(400, 'invalid_request', `acr must be one of ${ACR_VALUES.join(', ')}`);
      await this.#account(id);
      const owed = await requirePersonStepUp(this.#core, id, acr, reason);
      return { result: { acr: owed.acr, since: iso(new Date(owed.since * 1000)), grants: owed.grants, sessions: owed.sessions }, details: { grants: owed.grants, sessions: owed.sessions } };
    });
  }

  resetSecondFactors(by: AdminPrincipal, id: string, reason: string): Promise<void> {
    return this.#act(by, 'account.factors.reset', id, { reason }, async () => {
      await this.#account(id);
      const { totp, passkeys, recovery, revocations } = this.#core;
      const totpRemoved = await totp.remove(id);
      const keys = await passkeys.list(id);
      for (const key of keys) await passkeys.remove(id, key.id);
      await recovery.clear(id);
      await this.#core.ssf.outbox.emit([
        ...(totpRemoved ? [credentialChange(id, 'app', 'delete', 'admin')] : []),
        ...keys.map((key) => credentialChange(id, passkeyCredentialType(key.transports), 'delete', 'admin')),
      ]);
      // A factor change is a credential change: every session and grant of the account ends.
      const event = await revocations.account(id, this.#cause(by, reason));
      return { result: undefined, details: { totpRemoved, passkeysRemoved: keys.length, sessions: event.sessions.length, grants: event.grants.length } };
    });
  }

  setClientDisabled(by: AdminPrincipal, id: string, disabled: boolean, reason: string): Promise<ClientSummary> {
    return this.#act(by, disabled ? 'client.disable' : 'client.enable', id, { reason }, async () => {
      const metadata = await this.#clientMetadata(id);
      if (disabled && metadata.vigil_first_party === true) throw new AdminError(409, 'conflict', 'Vigil\'s own clients cannot be disabled');
      const { [CLIENT_DISABLED]: _was, ...rest } = metadata;
      const next: Payload = disabled ? { ...rest, [CLIENT_DISABLED]: true } : rest;
      await this.#core.adapters.for('Client').upsert(id, next);
      // The provider no longer finds the client; the tokens it already holds end too.
      const event = disabled ? await this.#core.revocations.client(id, this.#cause(by, reason)) : undefined;
      return { result: clientView(id, next), details: event ? { grants: event.grants.length } : {} };
    });
  }

  rotateClientSecret(by: AdminPrincipal, id: string): Promise<{ clientId: string; clientSecret: string }> {
    return this.#act(by, 'client.secret.rotate', id, {}, async () => {
      const metadata = await this.#clientMetadata(id);
      if (typeof metadata.client_secret !== 'string') throw new AdminError(409, 'conflict', 'this client has no secret (a public client)');
      const clientSecret = randomBytes(32).toString('base64url');
      // The adapter seals the secret at rest; it is shown to the caller once and never logged or audited.
      await this.#core.adapters.for('Client').upsert(id, { ...metadata, client_secret: clientSecret });
      return { result: { clientId: id, clientSecret } };
    });
  }

  /** A new account; without a password it cannot sign in with one until one is set. */
  createAccount(by: AdminPrincipal, input: NewAccount, reason?: string): Promise<AccountSummary> {
    const given = { reason, email: input.email, name: input.name ?? '', roles: input.roles ?? [], password: input.password === undefined ? 'none' : 'set' };
    return this.#act(by, 'account.create', input.email, given, async () => {
      const account = await this.#core.accounts.create({ email: input.email, password: input.password, displayName: input.name, roles: input.roles }).catch(accountRefusal);
      return { result: accountView(account), subject: account.id, details: { id: account.id } };
    });
  }

  /** Email and name go through `changeProfile`, roles through `changeRoles`: each change that changes something is a CAEP token-claims-change. */
  updateAccount(by: AdminPrincipal, id: string, change: AccountChange, reason?: string): Promise<AccountSummary> {
    return this.#act(by, 'account.update', id, { reason, ...change }, async () => {
      const before = await this.#account(id);
      // Every value is checked before anything changes: a bad role after a changed email would store half.
      const badRole = change.roles?.find((r) => !roleSchema.safeParse(r).success);
      if (badRole !== undefined) throw new AdminError(400, 'invalid_request', `role ${JSON.stringify(badRole)}: roles are lower-case words (a-z, 0-9, _ : -)`);
      if (change.email !== undefined && !emailSchema.safeParse(change.email).success) throw new AdminError(400, 'invalid_request', `email: not a valid address: ${change.email}`);
      if (change.roles && by.kind === 'person' && by.accountId === id && !change.roles.includes(by.role)) {
        throw new AdminError(409, 'conflict', `administrators cannot remove their own ${by.role} role`);
      }
      const deps = { accounts: this.#core.accounts, securityEvents: this.#core.ssf.outbox };
      const changed: Record<string, { from: unknown; to: unknown }> = {};
      let account = before;
      if (change.email !== undefined || change.name !== undefined) {
        const done = await changeProfile(deps, id, { email: change.email, displayName: change.name }, 'admin', reason).catch(accountRefusal);
        if (!done) throw notFound('account');
        account = done.account;
        if (done.previous.email !== undefined) changed.email = { from: done.previous.email, to: account.email };
        if (done.previous.name !== undefined) changed.name = { from: done.previous.name, to: account.displayName };
      }
      if (change.roles) {
        const done = await changeRoles(deps, id, change.roles, 'admin', reason).catch(accountRefusal);
        if (!done) throw notFound('account');
        account = done.account;
        if (done.changed) changed.roles = { from: done.previous, to: account.roles };
      }
      return { result: accountView(account), details: { changed } };
    });
  }

  createClient(by: AdminPrincipal, settings: ClientSettings, reason?: string): Promise<ClientChangeResult> {
    return this.#act(by, 'client.create', settings.name, { reason, settings }, async () => {
      const done = await registerClient(this.#clientSettings(), settings).catch(clientRefusal);
      return { result: this.#clientResult(done), subject: done.clientId, details: { id: done.clientId } };
    });
  }

  /** The settings given replace those the client has; the others stay. */
  updateClient(by: AdminPrincipal, id: string, change: Partial<ClientSettings>, reason?: string): Promise<ClientChangeResult> {
    return this.#act(by, 'client.update', id, { reason, change }, async () => {
      const metadata = await this.#clientMetadata(id);
      if (metadata.vigil_first_party === true) throw new AdminError(409, 'conflict', 'Vigil\'s own clients cannot be edited');
      const current = settingsOf(metadata, await this.#core.resourceServers.forClient(id));
      const done = await updateClient(this.#clientSettings(), id, metadata, { ...current, ...change }).catch(clientRefusal);
      return { result: this.#clientResult(done), details: { secretIssued: done.clientSecret !== undefined } };
    });
  }

  createRegistrationToken(by: AdminPrincipal, expiresIn: number, reason?: string): Promise<RegistrationToken> {
    return this.#act(by, 'registration_token.create', 'registration', { reason, expiresIn }, async () => {
      const { token, expiresAt } = await createRegistrationToken(this.#provider(), expiresIn);
      // The token is shown to the caller once, never audited.
      return { result: { initialAccessToken: token, expiresAt: iso(expiresAt) }, details: { expiresAt: iso(expiresAt) } };
    });
  }

  // ---- invitations ----------------------------------------------------------------------------

  async invitations(filter: { pending?: boolean }): Promise<{ items: InvitationView[] }> {
    return { items: (await this.#core.invitations.list({ pending: filter.pending })).map(invitationView) };
  }

  /** Mails the link; refused, storing nothing, for an email that has an account or an open invitation. */
  invite(by: AdminPrincipal, input: NewInvitation, reason?: string): Promise<InvitationView> {
    return this.#act(by, 'invitation.create', input.email, { reason, email: input.email, name: input.name ?? '', roles: input.roles ?? [] }, async () => {
      const invitedBy = by.kind === 'person' ? by.accountId : by.clientId;
      const invitation = await this.#core.invitations.invite(input, invitedBy).catch(invitationRefusal);
      return { result: invitationView(invitation), subject: invitation.id, details: { expiresAt: iso(invitation.expiresAt) } };
    });
  }

  revokeInvitation(by: AdminPrincipal, id: string, reason?: string): Promise<InvitationView> {
    return this.#act(by, 'invitation.revoke', id, { reason }, async () => {
      const revoked = await this.#core.invitations.revoke(id).catch(invitationRefusal);
      if (!revoked) throw notFound('invitation');
      return { result: invitationView(revoked), details: { email: revoked.email } };
    });
  }

  // ---- helpers --------------------------------------------------------------------------------

  /** Role check, the change, and the audit entry of its outcome (success, failure or denial). */
  async #act<T>(by: AdminPrincipal, verb: string, subject: string, given: Record<string, unknown>,
    change: () => Promise<{ result: T; details?: Record<string, unknown>; subject?: string }>): Promise<T> {
    const entry = {
      actor: by.kind === 'person' ? by.accountId : by.clientId, action: `admin.${verb}`, subject: printable(subject).slice(0, 200), ip: by.ip,
    };
    const details = { via: by.kind, role: by.role, ...given };
    if (by.role !== 'admin') {
      await this.#core.audit.append({ ...entry, outcome: 'denied', details: { ...details, error: 'forbidden' } });
      throw new AdminError(403, 'forbidden', 'auditors may read only');
    }
    let done;
    try {
      done = await change();
    } catch (err) {
      const error = err instanceof AdminError ? err.code : 'server_error';
      await this.#core.audit.append({ ...entry, outcome: 'failure', details: { ...details, error } });
      throw err;
    }
    await this.#core.audit.append({ ...entry, ...(done.subject ? { subject: done.subject } : {}), outcome: 'success', details: { ...details, ...done.details } });
    return done.result;
  }

  /** For each event type in the history, the thresholds of the client of its latest event (newest first). */
  #thresholds(history: RiskRow[]): RiskThreshold[] {
    const policy = this.#riskPolicy?.();
    if (!policy) return [];
    const out: RiskThreshold[] = [];
    for (const type of ['login', 'refresh'] as const) {
      const latest = history.find((r) => r.type === type);
      if (!latest) continue;
      for (const t of tablesFor(policy, latest.clientId)[type].thresholds) {
        const d = t.decision as { action: string; acr?: string };
        out.push({ type, minScore: t.minScore, decision: d.action, ...(d.acr ? { acr: d.acr } : {}) });
      }
    }
    return out;
  }

  #provider(): Provider {
    if (!this.#providerOf) throw new Error('the admin service was built without the provider');
    return this.#providerOf();
  }

  #clientSettings() {
    return clientSettingsDeps(this.#core, this.#provider());
  }

  #clientResult(done: ClientRegistration): ClientChangeResult {
    const metadata = done.metadata as Payload;
    return {
      ...clientView(done.clientId, metadata), settings: settingsOf(metadata, done.resourceServer),
      ...(done.clientSecret ? { clientSecret: done.clientSecret } : {}),
    };
  }

  #cause(by: AdminPrincipal, reason: string): RevocationCause {
    return { initiator: 'admin', actor: by.kind === 'person' ? by.accountId : by.clientId, reason, ip: by.ip };
  }

  async #account(id: string): Promise<Account> {
    checkId(id, ACCOUNT_ID, 'account');
    const account = await this.#core.accounts.findById(id);
    if (!account) throw notFound('account');
    return account;
  }

  async #clientMetadata(id: string): Promise<Payload> {
    checkId(id, CLIENT_ID, 'client');
    const metadata = await this.#core.adapters.for('Client').find(id);
    if (!metadata) throw notFound('client');
    return metadata;
  }

  /** The summaries with their clients' names, looked up in one query for the page. */
  async #named(sessions: SessionSummary[]): Promise<SessionSummary[]> {
    const { clients } = await this.#q.names(sessions.flatMap((s) => s.clients));
    return sessions.map((s) => withClientNames(s, clients));
  }

  /** The rows whose session is still live, as summaries; the activity of ended ones is forgotten. */
  async #alive(rows: SessionRow[]): Promise<{ row: SessionRow; summary: SessionSummary }[]> {
    const store = this.#core.adapters.for('Session');
    const sessions = await Promise.all(rows.map((r) => store.findByUid(r.sessionUid) as Promise<LiveSession | undefined>));
    const ended = rows.filter((_, i) => !sessions[i]?.jti).map((r) => r.sessionUid);
    await this.#q.forgetSessions(ended);
    return rows.flatMap((row, i) => {
      const live = sessions[i];
      return live?.jti ? [{ row, summary: sessionView(row, live) }] : [];
    });
  }
}

function sessionView(row: SessionRow, live: LiveSession): SessionSummary {
  const clients = new Set([...Object.keys(live.authorizations ?? {}), ...row.bindingClients]);
  const risk = row.risk;
  return {
    uid: row.sessionUid,
    accountId: row.accountId,
    email: row.email,
    clients: [...clients].sort(),
    clientNames: {},
    acr: typeof live.acr === 'string' ? live.acr : null,
    amr: Array.isArray(live.amr) ? live.amr.filter((m): m is string => typeof m === 'string') : [],
    deviceId: row.deviceId,
    device: describeUserAgent(parseUserAgent(row.userAgent)),
    ip: row.ip,
    place: placeOf(risk?.place ?? null),
    createdAt: iso(row.createdAt),
    lastSeenAt: iso(row.lastSeenAt),
    lastRefreshAt: row.lastRefreshAt ? iso(row.lastRefreshAt) : null,
    risk: risk && {
      score: risk.score, level: risk.level, decision: risk.decision.action, at: iso(risk.at),
      reasons: risk.signals.filter((s) => s.contribution > 0).map((s) => s.reason),
    },
  };
}

function withClientNames(s: SessionSummary, names: ClientNames): SessionSummary {
  return { ...s, clientNames: Object.fromEntries(s.clients.map((id) => [id, names.get(id) ?? id])) };
}

function riskEventView(r: RiskRow, names: ClientNames): RiskEventSummary {
  return {
    id: r.id, at: iso(r.at), type: r.type, accountId: r.accountId, sessionUid: r.sessionUid, clientId: r.clientId, clientName: names.get(r.clientId) ?? r.clientId, ip: r.ip,
    place: placeOf(r.place), deviceId: r.deviceId, score: r.score, level: r.level, decision: r.decision.action,
    reasons: r.signals.map((s) => ({ name: s.name, points: s.contribution, reason: s.reason })),
  };
}

const invitationRefusal = (err: unknown): never => {
  if (!(err instanceof InvitationError)) throw err;
  if (err.kind === 'invalid') throw new AdminError(400, 'invalid_request', err.message);
  if (err.kind === 'unsent') throw new AdminError(502, 'mail_failed', err.message);
  if (err.kind === 'closed') throw new AdminError(409, 'conflict', err.message);
  throw new AdminError(409, 'conflict', err.message);
};

function accountView(a: { id: string; email: string; displayName: string; roles: string[]; disabled: boolean; emailVerified: boolean; createdAt: Date }): AccountSummary {
  return { id: a.id, email: a.email, name: a.displayName, roles: a.roles, disabled: a.disabled, emailVerified: a.emailVerified, createdAt: iso(a.createdAt) };
}

function clientView(id: string, m: Record<string, unknown>): ClientSummary {
  return {
    clientId: id,
    name: typeof m.client_name === 'string' ? m.client_name : id,
    grantTypes: Array.isArray(m.grant_types) ? m.grant_types.filter((g): g is string => typeof g === 'string') : ['authorization_code', 'refresh_token'],
    disabled: m[CLIENT_DISABLED] === true,
    backchannelLogoutUri: typeof m.backchannel_logout_uri === 'string' ? m.backchannel_logout_uri : null,
    firstParty: m.vigil_first_party === true,
  };
}

