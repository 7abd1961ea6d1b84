/**
 * The continuous check: builds the risk context of a login or a refresh (address, place, agent,
 * device and its posture, operator lists), reads the history, asks the pure engine, stores the
 * assessment, grows the history, and acts — at refresh: allow, step-up (the session owes a
 * stronger sign-in; `invalid_grant` now) or revoke (the session and grant end everywhere).
 */
import { calculateJwkThumbprint, decodeProtectedHeader, type JWK } from 'jose';
import { errors, type KoaContextWithOIDC } from 'oidc-provider';
import type { Config } from '../config/index.ts';
import type { AuditEntry, AuditLog, PreparedAuditEntry } from '../audit/index.ts';
import type { Logger, Metrics } from '../observability/index.ts';
import type { Revocations, StepUpRequirements } from '../sessions/index.ts';
import { evaluatePosture, type Device } from '../devices/index.ts';
import { checkRefreshPaysStepUp } from '../oidc/index.ts';
import {
  assess, combineScore, decide, deviceSignals, emptyHistory, eventFromContext, recordAccountEvent, shouldRecord,
  type Assessment, type DevicePosture, type GeoLocation, type HistoryEvent, type RiskContext, type RiskHistory, type RiskLevel,
} from '../risk/index.ts';
import { riskLevelChange, type SecurityEventSink } from '../ssf/index.ts';
import type { PolicyFiles } from './settings-files.ts';
import type { PopulationCache } from './population.ts';
import { assessmentRow, type LoadedState, type RiskStore, type SaveRequest, type StoredAssessment } from './risk-store.ts';
import { BatchWriter } from '../store/index.ts';
import { endUserOf, MAX_USER_AGENT } from './end-user.ts';
import type { RiskReadAhead } from './risk-read-ahead.ts';

export interface VerifierDeps {
  config: Config;
  store: RiskStore;
  population: PopulationCache;
  /** The policy files in force (swapped on SIGHUP). */
  files: () => PolicyFiles;
  geo: (ip: string) => GeoLocation | undefined;
  revocations: Revocations;
  stepUps: StepUpRequirements;
  audit: AuditLog;
  /** Entries of allowed events go here (batched, off the response path); decisions that act are written at once. */
  auditQueue: BatchWriter<AuditEntry, PreparedAuditEntry>;
  logger: Logger;
  metrics?: Metrics;
  /** Where a change of an account's risk level is told (the Shared Signals outbox). */
  securityEvents?: SecurityEventSink;
  /** The risk state read with the refresh token, when it was (one round trip fewer). */
  readAhead?: RiskReadAhead;
  now?: () => number;
}

export interface LoginRequest {
  accountId: string;
  clientId: string;
  ip: string;
  userAgent: string;
  /** Vigil's device cookie. */
  deviceId?: string;
}

export interface LoginVerdict {
  assessment: Assessment;
  /** What was assessed: recorded into the history once the sign-in completes. */
  context: RiskContext;
}

/** The reasons of the signals that added the most, for a person or an operator to read. */
export function mainReasons(assessment: Assessment, max = 3): string {
  return assessment.signals.filter((s) => s.contribution > 0).sort((a, b) => b.contribution - a.contribution).slice(0, max).map((s) => s.reason).join('; ');
}

function auditDetails(assessment: Assessment, extra: Record<string, unknown>): Record<string, unknown> {
  return {
    ...extra,
    score: assessment.score,
    level: assessment.level,
    decision: assessment.decision,
    rules: assessment.rules,
    signals: assessment.signals.map((s) => ({ name: s.name, points: s.contribution, reason: s.reason })),
  };
}

/** An allowed refresh's entry: the signals' points without their sentences (those are in the stored assessment). */
function briefAuditDetails(assessment: Assessment): Record<string, unknown> {
  return {
    score: assessment.score,
    level: assessment.level,
    decision: assessment.decision,
    signals: Object.fromEntries(assessment.signals.map((s) => [s.name, s.contribution])),
  };
}

/** The thumbprint of the key a DPoP proof was made with (oidc-provider has verified the proof before the hook runs). */
async function dpopThumbprint(ctx: KoaContextWithOIDC): Promise<string | undefined> {
  const proof = ctx.get('dpop');
  if (!proof) return undefined;
  try {
    const { jwk } = decodeProtectedHeader(proof);
    return jwk ? await calculateJwkThumbprint(jwk as JWK) : undefined;
  } catch {
    return undefined;
  }
}

/** What the continuous check found about a token request, for the access policy to decide on. */
export interface TokenRequestState {
  context: RiskContext;
  /** Undefined at a code exchange (the sign-in was assessed at the login page). */
  assessment?: Assessment;
  /** The account's last assessed risk level. */
  riskLevel: RiskLevel;
}

/** A history with one more event, before it is stored. */
interface GrownHistory {
  history: RiskHistory;
  event: HistoryEvent;
  /** The account's first event (a new account for the population). */
  first: boolean;
}

export class ContinuousVerifier {
  readonly enabled: boolean;
  readonly #tokenRequests = new WeakMap<object, TokenRequestState>();
  readonly #deps: VerifierDeps;
  readonly #now: () => number;
  readonly #assessments: BatchWriter<StoredAssessment, string>;
  readonly #touches: BatchWriter<{ grantId: string; time: number }>;
  readonly #levelChanges = new Set<Promise<void>>();
  // The profile a sign-in was assessed on, until the sign-in is recorded (in the same request, when it needs no second factor).
  readonly #assessedOn = new WeakMap<RiskContext, Pick<LoadedState, 'history' | 'version'>>();

  constructor(deps: VerifierDeps) {
    this.#deps = deps;
    this.enabled = deps.config.VIGIL_RISK_ENGINE;
    this.#now = deps.now ?? Date.now;
    this.#assessments = new BatchWriter('risk assessments', (rows) => deps.store.insertAssessmentRows(rows), deps.logger, { prepare: assessmentRow });
    this.#touches = new BatchWriter('grant binding times', (list) => deps.store.touchBindings(list), deps.logger);
  }

  /** Writes the assessments and binding times still waiting to be stored (before the server stops). */
  async flush(): Promise<void> {
    await Promise.all([this.#assessments.drain(), this.#touches.drain(), ...this.#levelChanges]);
  }

  /** A wrong password (or unknown email): counted for the address and, when known, the account. */
  async loginFailed(accountId: string | undefined, ip: string): Promise<void> {
    if (!this.enabled) return;
    await this.#deps.store.recordFailure(accountId, ip, this.#now());
  }

  /** Assesses a sign-in whose credentials were right; undefined when the engine is off. */
  async assessLogin(req: LoginRequest): Promise<LoginVerdict | undefined> {
    if (!this.enabled) return undefined;
    const { store, population } = this.#deps;
    const files = this.#deps.files();
    const time = this.#now();
    const state = await store.load(population.stats, { accountId: req.accountId, ip: req.ip });
    const context = this.#context(files, 'login', time, req.accountId, req.clientId, req.ip, req.userAgent.slice(0, MAX_USER_AGENT), true);
    context.outcome = 'success';
    if (req.deviceId !== undefined) context.deviceId = req.deviceId;
    const assessment = assess(context, state.history, files.risk);
    this.#assessedOn.set(context, { history: state.history, version: state.version });
    await store.save({ assessment: this.#stored(context, assessment) });
    this.#noteLevel(req.accountId, state.riskLevel, assessment);
    this.#count('login', assessment);
    this.#deps.auditQueue.add({
      actor: req.accountId, action: 'risk.login', subject: req.clientId, ip: req.ip,
      outcome: assessment.decision.action === 'deny' ? 'denied' : 'info', details: auditDetails(assessment, {}),
    });
    return { assessment, context };
  }

  /**
   * A sign-in by a session the browser already holds (single sign-on: no login page), assessed
   * on its own context like any sign-in. Allowed, it joins the history at once; otherwise the
   * caller asks the session for a fresh authentication at the decision's level.
   */
  async singleSignOn(req: LoginRequest): Promise<Assessment['decision'] | undefined> {
    const verdict = await this.assessLogin(req);
    if (!verdict) return undefined;
    if (verdict.assessment.decision.action === 'allow') await this.recordLogin(verdict.context);
    return verdict.assessment.decision;
  }

  /**
   * A sign-in completed: what was assessed becomes part of the account's history. On the profile
   * the assessment read, when it was in this process (its version guards the write, as a
   * refresh's does); else on the profile read now.
   */
  async recordLogin(context: RiskContext): Promise<void> {
    if (!this.enabled) return;
    const { store, population } = this.#deps;
    const state = this.#assessedOn.get(context) ?? await store.load(population.stats, { accountId: context.accountId, ip: context.ip });
    this.#assessedOn.delete(context);
    const grown = this.#grow(context, state.history, 'login');
    if (!grown) return;
    const { profileSaved } = await store.save({ profile: { accountId: context.accountId, history: grown.history, version: state.version } });
    if (profileSaved) this.#deps.population.record(grown.event, grown.first);
  }

  /**
   * oidc-provider's rotateRefreshToken hook (with the engine on): returns to allow, throws
   * `invalid_grant` to refuse — first if the session owes a step-up this token does not pay, then
   * as the risk policy decides. Both checks use the one read.
   */
  async refresh(ctx: KoaContextWithOIDC): Promise<void> {
    const { store, population, config } = this.#deps;
    const token = ctx.oidc.entities.RefreshToken!;
    const clientId = ctx.oidc.client!.clientId;
    const accountId = token.accountId;
    const grantId = token.grantId!;
    const sessionUid = token.sessionUid;
    const user = endUserOf(ctx);
    const files = this.#deps.files();
    const time = this.#now();
    const state = this.#deps.readAhead?.take(ctx, { accountId, grantId, ip: user.ip }, population.stats)
      // A DPoP-bound token's key was checked against the proof by oidc-provider already.
      ?? await store.load(population.stats, { accountId, ip: user.ip, grantId, jkt: token.jkt ?? await dpopThumbprint(ctx), ...(sessionUid ? { sessionUid } : {}) });
    checkRefreshPaysStepUp(token, state.owed);

    const context = this.#context(files, 'refresh', time, accountId, clientId, user.ip, user.userAgent, user.ipIsUser);
    if (sessionUid) context.sessionId = sessionUid;
    context.accessTokenTtlSeconds = config.VIGIL_ACCESS_TOKEN_TTL;
    this.#withDevice(context, state.device, accountId, time, files);
    if (state.binding) {
      if (state.binding.deviceId !== undefined) context.sessionDeviceId = state.binding.deviceId;
      // The binding's agent is the person's (empty until a request of theirs was seen).
      if (state.binding.userAgent !== '') context.sessionUserAgent = state.binding.userAgent;
      context.lastRefreshAt = state.binding.lastRefreshAt;
    }
    const assessment = assess(context, state.history, files.risk);
    this.#noteLevel(accountId, state.riskLevel, assessment);
    this.#tokenRequests.set(ctx, { context, assessment, riskLevel: assessment.level });
    const decision = assessment.decision;
    // A server's own agent and address say nothing about the person: its refreshes do not teach the model.
    const grown = decision.action === 'allow' && user.ipIsUser ? this.#grow(context, state.history, 'refresh') : undefined;
    // A binding is written here only when created or filled in; its time moves on behind, in batches.
    const bound = state.binding;
    const bindingChanges = decision.action !== 'revoke'
      && (!bound || (bound.deviceId === undefined && context.deviceId !== undefined) || (bound.userAgent === '' && user.ipIsUser));
    const save: SaveRequest = {
      ...(grown ? { profile: { accountId, history: grown.history, version: state.version } } : {}),
      ...(bindingChanges ? {
        binding: {
          grantId, ...(sessionUid ? { sessionUid } : {}), accountId, clientId, ...(context.deviceId ? { deviceId: context.deviceId } : {}),
          userAgent: user.ipIsUser ? user.userAgent : '', time,
        },
      } : {}),
    };
    this.#count('refresh', assessment);
    const entry = (details: Record<string, unknown>): AuditEntry => ({
      actor: accountId, action: 'risk.refresh', subject: clientId, ip: user.ip, outcome: decision.action === 'allow' ? 'info' : 'denied',
      details: { ...details, session: sessionUid ?? null, grant: grantId, device: context.deviceId ?? null, forwarded: user.forwarded },
    });
    if (decision.action === 'allow') {
      // The hot path: the assessment, its audit entry and the binding's time are written behind, in batches.
      if (save.profile || save.binding) {
        const { profileSaved } = await store.save(save);
        if (grown && profileSaved) this.#deps.population.record(grown.event, grown.first);
      }
      if (!save.binding) this.#touches.add({ grantId, time });
      this.#assessments.add(this.#stored(context, assessment));
      // The reasons are in the stored assessment; the trail keeps what was decided and from which signals.
      this.#deps.auditQueue.add(entry(briefAuditDetails(assessment)));
      return;
    }
    // Only an allowed refresh grows the history: nothing here is counted in the population.
    await store.save({ ...save, assessment: this.#stored(context, assessment) });
    const reasons = mainReasons(assessment);
    if (decision.action === 'step_up' && sessionUid) {
      await this.#deps.stepUps.require(sessionUid, accountId, decision.acr, `risk: ${reasons}`.slice(0, 500));
      await this.#deps.audit.append(entry(auditDetails(assessment, {})));
      throw Object.assign(new errors.InvalidGrant('step-up required by risk policy'), {
        error_description: `step-up authentication required: this refresh looks unusual; sign in again at ${decision.acr} through the authorization endpoint`,
      });
    }
    // Revoke (or a step-up for a grant of no session — its token names none — which no step-up could reach: only a new sign-in can give it a stronger one).
    await this.#revoke(grantId, sessionUid, accountId, clientId, `risk: ${reasons}`.slice(0, 500));
    await this.#deps.audit.append(entry(auditDetails(assessment, {})));
    this.#deps.logger.warn({ account: accountId, client: clientId, score: assessment.score, rules: assessment.rules }, 'risk policy revoked a session at refresh');
    throw Object.assign(new errors.InvalidGrant('grant revoked by risk policy'), {
      error_description: 'the session was ended by the risk policy; the person must sign in again',
    });
  }

  /** The state this refresh was assessed on (undefined when the engine is off or did not run for `ctx`). */
  refreshState(ctx: KoaContextWithOIDC): TokenRequestState | undefined {
    return this.#tokenRequests.get(ctx);
  }

  /**
   * At a code exchange: the requester's place and network, the registered device its DPoP key proves and its
   * posture, and the account's last risk level (one read). Undefined when the engine is off.
   */
  async codeExchangeState(ctx: KoaContextWithOIDC, accountId: string): Promise<TokenRequestState | undefined> {
    if (!this.enabled) return undefined;
    const files = this.#deps.files();
    const time = this.#now();
    const user = endUserOf(ctx);
    const jkt = await dpopThumbprint(ctx);
    const state = await this.#deps.store.load(this.#deps.population.stats, { accountId, ip: user.ip, ...(jkt ? { jkt } : {}) });
    const context = this.#context(files, 'refresh', time, accountId, ctx.oidc.client!.clientId, user.ip, user.userAgent, user.ipIsUser);
    this.#withDevice(context, state.device, accountId, time, files);
    return { context, riskLevel: state.riskLevel };
  }

  /**
   * A device reported its posture. When it fails the policy and the policy says to revoke the
   * sessions refreshing from it (for their client), they end now rather than at their next refresh.
   */
  async postureChanged(device: Device, posture: DevicePosture): Promise<number> {
    if (!this.enabled || (posture.compliant && !posture.stale)) return 0;
    const files = this.#deps.files();
    const time = this.#now();
    const grants = await this.#deps.store.grantsOnDevice(device.id);
    let revoked = 0;
    for (const grant of grants) {
      const context = this.#context(files, 'refresh', time, grant.accountId, grant.clientId, '0.0.0.0', '', false);
      context.deviceId = device.id;
      context.devicePosture = posture;
      const signals = deviceSignals(context, emptyHistory(), files.risk.scoring.device);
      const { decision, rules } = decide(files.risk, 'refresh', grant.clientId, combineScore(signals), signals);
      if (decision.action !== 'revoke') continue;
      await this.#revoke(grant.grantId, grant.sessionUid, grant.accountId, grant.clientId, `device ${device.id} no longer compliant: ${posture.reasons.join('; ')}`.slice(0, 500));
      revoked += 1;
      await this.#deps.audit.append({
        actor: 'system', action: 'risk.posture_revoke', subject: grant.accountId, outcome: 'success',
        details: { device: device.id, client: grant.clientId, session: grant.sessionUid ?? null, grant: grant.grantId, reasons: posture.reasons, rules },
      });
    }
    return revoked;
  }

  /**
   * The account's risk level moved: stored, and a CAEP risk-level-change queued. Off the response
   * path; an unchanged level (nearly every request) writes nothing.
   */
  #noteLevel(accountId: string, previous: RiskLevel, assessment: Assessment): void {
    const current = assessment.level;
    if (current === previous) return;
    const done: Promise<void> = this.#deps.store.setRiskLevel(accountId, previous, current)
      .then(async (changed) => {
        if (changed) await this.#deps.securityEvents?.emit([riskLevelChange(accountId, previous, current, mainReasons(assessment) || undefined, this.#now())]);
      })
      .catch((err) => this.#deps.logger.error({ err, account: accountId }, 'could not record a change of the account\'s risk level'))
      .finally(() => this.#levelChanges.delete(done));
    this.#levelChanges.add(done);
  }

  /** The session ends (all its relying parties are told); the grant too, should it outlive the session. */
  async #revoke(grantId: string, sessionUid: string | undefined, accountId: string, clientId: string, reason: string): Promise<void> {
    const cause = { initiator: 'policy' as const, actor: 'risk-engine', reason };
    const ended = sessionUid ? await this.#deps.revocations.session(sessionUid, cause) : undefined;
    if (!ended?.grants.includes(grantId)) await this.#deps.revocations.grant(grantId, cause, { accountId, clientId });
  }

  #context(files: PolicyFiles, type: 'login' | 'refresh', time: number, accountId: string, clientId: string, ip: string, userAgent: string, ipIsUser: boolean): RiskContext {
    const context: RiskContext = { type, time, accountId, clientId, ip, userAgent, ipIsUser };
    if (ipIsUser) {
      context.geo = this.#deps.geo(ip);
      const tags = files.networkTags(ip);
      if (tags.length > 0) context.networkTags = tags;
    }
    return context;
  }

  /** A registered device of this person, proven by the DPoP key it signs with, and its posture now. */
  #withDevice(context: RiskContext, device: LoadedState['device'], accountId: string, time: number, files: PolicyFiles): void {
    if (!device || device.accountId !== accountId) return;
    context.deviceId = device.id;
    context.devicePosture = evaluatePosture(device.lastPosture, device.lastReportAt, time, files.posture, device.externalCompliance);
  }

  /**
   * Folds a successful event into the account's history; undefined when it adds nothing. The
   * population counts it only once the history is stored: a write that loses to a
   * concurrent one (parallel refreshes of one person's grants) is retried at the session's next
   * refresh, and counting every attempt would make the person rarer in the population at each
   * one, so that their own refreshes would grow more "unusual".
   */
  #grow(context: RiskContext, history: RiskHistory, type: 'login' | 'refresh'): GrownHistory | undefined {
    const event = eventFromContext(context, history);
    if (!shouldRecord(history, event, type)) return undefined;
    const first = recordAccountEvent(history, event);
    return { history, event, first };
  }

  #stored(context: RiskContext, assessment: Assessment): StoredAssessment {
    return {
      time: context.time, type: context.type, accountId: context.accountId, clientId: context.clientId, ip: context.ip,
      ipIsUser: context.ipIsUser !== false, assessment,
      ...(context.sessionId ? { sessionUid: context.sessionId } : {}),
      ...(context.geo ? { place: context.geo } : {}),
      ...(context.deviceId ? { deviceId: context.deviceId } : {}),
    };
  }

  #count(type: 'login' | 'refresh', assessment: Assessment): void {
    this.#deps.metrics?.riskDecisions.inc({ type, action: assessment.decision.action });
  }
}
