/**
 * Just-in-time elevation: a person asks for a role they are eligible for, for a bounded time and a
 * reason; approvers holding the role's approver role approve it (never their own) with a fresh
 * sign-in of the level the role asks; it ends by itself at its expiry, or earlier when revoked.
 * Every step is audited; every start and end is told to the person's Shared Signals streams as a
 * CAEP token-claims-change and to every instance through the bus.
 */
import { acrLevel } from '../config/index.ts';
import { ApiError } from '../http/api-error.ts';
import type { AuditEntry } from '../audit/index.ts';
import type { Account, AccountStore } from '../identity/index.ts';
import { tokenClaimsChange, type Initiator, type SecurityEventSink } from '../ssf/index.ts';
import { effectiveRoles, type ActiveElevations } from './effective-roles.ts';
import { MIN_ELEVATION_SECONDS, type ElevationSettings } from './settings.ts';
import { ElevationOpen, type Elevation, type ElevationFilter, type ElevationStatus, type ElevationStore, type Eligibility } from './store.ts';

/** Who acts: a signed-in person (their effective roles and sign-in), or the operator at the CLI. */
export interface ElevationActor {
  /** The person acting; absent for the operator. */
  accountId?: string;
  /** What the audit trail names. */
  actor: string;
  roles: readonly string[];
  acr?: string;
  /** Epoch seconds of the sign-in. */
  authTime?: number;
  ip?: string;
  /** The operator at the CLI (holds the database): may act for anyone. */
  operator?: boolean;
}

/** A refusal: the HTTP status and error code the APIs answer with; 401 names the sign-in needed. */
export class ElevationError extends ApiError {
  override name = 'ElevationError';
  readonly acrValues: string | undefined;
  readonly maxAge: number | undefined;

  constructor(status: 400 | 401 | 403 | 404 | 409, code: string, message: string, need?: { acr: string; maxAge?: number }) {
    super(status, code, message);
    this.acrValues = need?.acr;
    this.maxAge = need?.maxAge;
  }
}

export interface ElevationDeps {
  store: ElevationStore;
  accounts: Pick<AccountStore, 'findById'>;
  audit: { append(entry: AuditEntry): Promise<unknown> };
  securityEvents: SecurityEventSink;
  /** Every instance drops what it keeps of the account (the revocation bus). */
  announce: (accountId: string, reason: string) => Promise<void>;
  active: ActiveElevations;
  settings: () => ElevationSettings;
}

export interface ElevationRequest {
  /** Whose elevation: the actor's own by default (only the operator asks for someone else). */
  accountId?: string;
  role: string;
  durationSeconds: number;
  reason: string;
}

const ADMIN_ROLES = ['admin'];
const READER_ROLES = ['admin', 'auditor'];

export class Elevations {
  readonly #deps: ElevationDeps;
  /** Told when an elevation started on this instance (the expiry watch looks at its end). */
  onStarted: (() => void) | undefined;

  constructor(deps: ElevationDeps) {
    this.#deps = deps;
  }

  get settings(): ElevationSettings {
    return this.#deps.settings();
  }

  /** The account's roles now for a sign-in of `acr`: standing ∪ elevated. */
  async rolesOf(account: Pick<Account, 'id' | 'roles'>, acr: string | undefined): Promise<string[]> {
    // Nothing elevatable: the token path reads nothing more.
    if (this.settings.roles.size === 0) return account.roles;
    const active = await this.#deps.active.of(account.id);
    return active.length ? effectiveRoles(account.roles, active, this.settings, acr) : [...account.roles];
  }

  /** Elevations in force end (time of the next one, for the caller's timer). */
  nextExpiry(): Promise<number | undefined> {
    return this.#deps.store.nextExpiry();
  }

  async request(by: ElevationActor, request: ElevationRequest): Promise<Elevation> {
    const accountId = request.accountId ?? by.accountId;
    if (!accountId) throw new ElevationError(400, 'invalid_request', 'name the person the elevation is for');
    if (accountId !== by.accountId && !by.operator) throw new ElevationError(403, 'forbidden', 'people ask for their own elevations');
    const rule = this.settings.roles.get(request.role);
    if (!rule) throw new ElevationError(400, 'invalid_request', `${request.role} is not an elevatable role`);
    const max = rule.max_minutes * 60;
    if (request.durationSeconds < MIN_ELEVATION_SECONDS) throw new ElevationError(400, 'invalid_request', `an elevation lasts at least ${MIN_ELEVATION_SECONDS} seconds`);
    if (request.durationSeconds > max) {
      await this.#audit(by, 'elevation.requested', accountId, 'denied', { role: request.role, reason: 'over_maximum', seconds: request.durationSeconds, maxSeconds: max });
      throw new ElevationError(400, 'invalid_request', `${request.role} can be held for at most ${rule.max_minutes} minutes`);
    }
    const account = await this.#deps.accounts.findById(accountId);
    if (!account || account.disabled) throw new ElevationError(404, 'not_found', 'no such account');
    const eligible = await this.#deps.store.eligibleRoles(accountId);
    if (!eligible.includes(request.role)) {
      await this.#audit(by, 'elevation.requested', accountId, 'denied', { role: request.role, reason: 'not_eligible' });
      throw new ElevationError(403, 'not_eligible', `this account is not eligible for ${request.role}`);
    }
    // An elevation past its end but not yet marked expired would block the new request.
    await this.expireDue();
    const approvalsNeeded = rule.approval === 'none' ? 0 : rule.approval.count;
    let elevation: Elevation;
    try {
      elevation = await this.#deps.store.create({ accountId, role: request.role, reason: request.reason, durationSeconds: request.durationSeconds, requestedBy: by.actor, approvalsNeeded });
    } catch (err) {
      if (err instanceof ElevationOpen) throw new ElevationError(409, 'conflict', err.message);
      throw err;
    }
    await this.#audit(by, 'elevation.requested', accountId, 'success', { elevation: elevation.id, role: elevation.role, seconds: elevation.durationSeconds, reason: elevation.reason, approvalsNeeded });
    if (elevation.status === 'active') await this.#started(by, elevation);
    return elevation;
  }

  async approve(by: ElevationActor, id: string): Promise<Elevation> {
    const elevation = await this.#find(id);
    if (elevation.accountId === by.accountId) {
      await this.#audit(by, 'elevation.approved', elevation.accountId, 'denied', { elevation: id, role: elevation.role, reason: 'self_approval' });
      throw new ElevationError(403, 'forbidden', 'nobody approves their own elevation');
    }
    if (!by.accountId) throw new ElevationError(403, 'forbidden', 'elevations are approved by people');
    if (elevation.status !== 'pending') throw new ElevationError(409, 'conflict', `this request is ${elevation.status}, not pending`);
    const rule = this.settings.roles.get(elevation.role);
    if (!rule || rule.approval === 'none') throw new ElevationError(409, 'conflict', `${elevation.role} is no longer elevatable with approval`);
    const approval = rule.approval;
    if (!by.roles.includes(approval.approvers_role)) {
      await this.#audit(by, 'elevation.approved', elevation.accountId, 'denied', { elevation: id, role: elevation.role, reason: 'not_an_approver' });
      throw new ElevationError(403, 'forbidden', `approving ${elevation.role} needs the role ${approval.approvers_role}`);
    }
    if (!by.operator) {
      const fresh = by.authTime !== undefined && Date.now() / 1000 - by.authTime <= approval.max_age_seconds;
      if (acrLevel(by.acr) < acrLevel(approval.acr) || !fresh) {
        await this.#audit(by, 'elevation.approved', elevation.accountId, 'denied', { elevation: id, role: elevation.role, reason: 'sign_in_too_weak_or_old', acr: by.acr ?? null });
        throw new ElevationError(401, 'insufficient_user_authentication',
          `approving ${elevation.role} needs a sign-in of ${approval.acr} at most ${approval.max_age_seconds} seconds old`, { acr: approval.acr, maxAge: approval.max_age_seconds });
      }
    }
    const approved = await this.#deps.store.approve(id, by.accountId, by.operator ? 'operator' : by.acr!);
    if (!approved) throw new ElevationError(409, 'conflict', 'this request is no longer pending');
    await this.#audit(by, 'elevation.approved', approved.accountId, 'success', {
      elevation: id, role: approved.role, approvals: approved.approvals.length, needed: approved.approvalsNeeded, acr: by.acr ?? null,
    });
    if (approved.status === 'active' && elevation.status === 'pending') await this.#started(by, approved);
    return approved;
  }

  async deny(by: ElevationActor, id: string, reason: string): Promise<Elevation> {
    const elevation = await this.#find(id);
    const rule = this.settings.roles.get(elevation.role);
    const approver = rule && rule.approval !== 'none' && by.roles.includes(rule.approval.approvers_role);
    if (!approver && !by.operator && !by.roles.some((r) => ADMIN_ROLES.includes(r))) throw new ElevationError(403, 'forbidden', 'only approvers deny requests');
    const denied = await this.#deps.store.end(id, 'denied', ['pending'], by.actor, reason);
    if (!denied) throw new ElevationError(409, 'conflict', `this request is ${elevation.status}, not pending`);
    await this.#audit(by, 'elevation.denied', denied.accountId, 'success', { elevation: id, role: denied.role, reason });
    return denied;
  }

  /** Withdraws a request or ends an elevation early: the person themselves, an administrator or the operator. */
  async revoke(by: ElevationActor, id: string, reason: string): Promise<Elevation> {
    const elevation = await this.#find(id);
    const own = elevation.accountId === by.accountId;
    if (!own && !by.operator && !by.roles.some((r) => ADMIN_ROLES.includes(r))) throw new ElevationError(403, 'forbidden', 'only the person or an administrator ends an elevation');
    const ended = await this.#deps.store.end(id, 'revoked', ['pending', 'active'], by.actor, reason);
    if (!ended) throw new ElevationError(409, 'conflict', `this elevation is ${elevation.status === 'active' ? 'over' : elevation.status}`);
    await this.#audit(by, 'elevation.revoked', ended.accountId, 'success', { elevation: id, role: ended.role, reason, wasActive: elevation.status === 'active' });
    if (elevation.status === 'active') await this.#changed(ended.accountId, by.operator ? 'admin' : own ? 'user' : 'admin', `elevation to ${ended.role} revoked: ${reason}`);
    return ended;
  }

  /** Marks the elevations past their end expired and announces each, once across instances. */
  async expireDue(): Promise<Elevation[]> {
    const expired = await this.#deps.store.expireDue();
    for (const e of expired) {
      await this.#deps.audit.append({ actor: 'system', action: 'elevation.expired', subject: e.accountId, outcome: 'info', details: { elevation: e.id, role: e.role } });
      await this.#changed(e.accountId, 'system', `elevation to ${e.role} expired`);
    }
    return expired;
  }

  /** Everyone's for administrators and auditors; otherwise the actor's own. */
  async list(by: ElevationActor, filter: ElevationFilter & { status?: ElevationStatus } = {}): Promise<Elevation[]> {
    const all = by.operator || by.roles.some((r) => READER_ROLES.includes(r) || this.#approves(r));
    if (!all && !by.accountId) return [];
    return this.#deps.store.list(all ? filter : { ...filter, accountId: by.accountId });
  }

  async find(by: ElevationActor, id: string): Promise<Elevation> {
    const elevation = await this.#find(id);
    const all = by.operator || by.roles.some((r) => READER_ROLES.includes(r) || this.#approves(r));
    if (!all && elevation.accountId !== by.accountId) throw new ElevationError(404, 'not_found', 'no such elevation');
    return elevation;
  }

  eligibility(accountId?: string): Promise<Eligibility[]> {
    return this.#deps.store.eligibility(accountId);
  }

  eligibleRoles(accountId: string): Promise<string[]> {
    return this.#deps.store.eligibleRoles(accountId);
  }

  /** Makes a person eligible for an elevatable role (administrators and the operator). */
  async grantEligibility(by: ElevationActor, accountId: string, role: string, reason?: string): Promise<boolean> {
    this.#mayManage(by);
    if (!this.settings.roles.has(role)) throw new ElevationError(400, 'invalid_request', `${role} is not an elevatable role (see VIGIL_ELEVATION_FILE)`);
    const account = await this.#deps.accounts.findById(accountId);
    if (!account) throw new ElevationError(404, 'not_found', 'no such account');
    const granted = await this.#deps.store.grantEligibility(accountId, role, by.actor);
    await this.#audit(by, 'elevation.eligibility_granted', accountId, 'success', { role, changed: granted, ...(reason ? { reason } : {}) });
    return granted;
  }

  /** Withdraws eligibility; an open request or elevation of that role ends with it. */
  async withdrawEligibility(by: ElevationActor, accountId: string, role: string, reason?: string): Promise<boolean> {
    this.#mayManage(by);
    const withdrawn = await this.#deps.store.withdrawEligibility(accountId, role);
    await this.#audit(by, 'elevation.eligibility_withdrawn', accountId, 'success', { role, changed: withdrawn, ...(reason ? { reason } : {}) });
    for (const open of await this.#deps.store.list({ accountId, limit: 500 })) {
      if (open.role === role && (open.status === 'pending' || open.status === 'active')) await this.revoke(by, open.id, 'eligibility withdrawn');
    }
    return withdrawn;
  }

  /** The roles whose holders approve some elevation. */
  approverRoles(): Set<string> {
    const roles = new Set<string>();
    for (const rule of this.settings.roles.values()) if (rule.approval !== 'none') roles.add(rule.approval.approvers_role);
    return roles;
  }

  #approves(role: string): boolean {
    return this.approverRoles().has(role);
  }

  #mayManage(by: ElevationActor): void {
    if (!by.operator && !by.roles.some((r) => ADMIN_ROLES.includes(r))) throw new ElevationError(403, 'forbidden', 'only administrators change eligibility');
  }

  async #find(id: string): Promise<Elevation> {
    const elevation = /^[0-9a-f-]{36}$/.test(id) ? await this.#deps.store.find(id) : undefined;
    if (!elevation) throw new ElevationError(404, 'not_found', 'no such elevation');
    return elevation;
  }

  async #started(by: ElevationActor, elevation: Elevation): Promise<void> {
    await this.#deps.audit.append({
      actor: by.actor, action: 'elevation.activated', subject: elevation.accountId, ...(by.ip ? { ip: by.ip } : {}), outcome: 'success',
      details: { elevation: elevation.id, role: elevation.role, expiresAt: elevation.expiresAt?.toISOString() ?? null },
    });
    this.onStarted?.();
    await this.#changed(elevation.accountId, elevation.accountId === by.accountId ? 'user' : 'admin', `elevated to ${elevation.role} until ${elevation.expiresAt?.toISOString()}: ${elevation.reason}`);
  }

  /** Every instance forgets the account's elevations; the person's streams learn the roles their tokens now carry. */
  async #changed(accountId: string, initiator: Initiator, reason: string): Promise<void> {
    this.#deps.active.forget(accountId);
    await this.#deps.announce(accountId, reason);
    const account = await this.#deps.accounts.findById(accountId);
    if (!account) return;
    // The roles a token of a sign-in strong enough for every elevation in force carries now.
    const active = await this.#deps.store.active(accountId);
    const roles = [...new Set([...account.roles, ...active.filter((a) => this.settings.roles.has(a.role)).map((a) => a.role)])].sort();
    await this.#deps.securityEvents.emit([tokenClaimsChange(accountId, { roles }, initiator, reason)]);
  }

  async #audit(by: ElevationActor, action: string, subject: string, outcome: AuditEntry['outcome'], details: Record<string, unknown>): Promise<void> {
    await this.#deps.audit.append({ actor: by.actor, action, subject, ...(by.ip ? { ip: by.ip } : {}), outcome, details });
  }
}
