import type { Context } from 'koa';
import type Provider from 'oidc-provider';
import type { InteractionResults } from 'oidc-provider';
import { errors } from 'oidc-provider';
import { ACR, acrLevel, type Config } from '../config/index.ts';
import { constantTimeEqual, type KeyRing } from '../crypto/index.ts';
import type { AccountStore } from '../identity/index.ts';
import type { AuditLog } from '../audit/index.ts';
import type { Logger, Metrics } from '../observability/index.ts';
import { acrForAmr, combineAmr, satisfies, strongestAcr, type ChallengeStore, type Passkeys, type RecoveryCodes, type TotpFactors } from '../mfa/index.ts';
import type { ContinuousVerifier, DeviceCookie, LoginVerdict } from '../verification/index.ts';
import type { RiskContext } from '../risk/index.ts';
import { clientNameOf, type Views } from '../http/views.ts';
import { assuranceLevelChange, type SecurityEventSink } from '../ssf/index.ts';
import type { SignInRequirements } from '../sessions/index.ts';
import type { AttemptLimiter } from '../limits/index.ts';
import { msg, type Message } from '../i18n/index.ts';
import type { LoginThrottle } from './login-throttle.ts';
import type { AccountRecovery } from '../recovery/index.ts';
import type { FederatedSignIn, FederationRegistry, FederationStore } from '../federation/index.ts';

/** Sign-in through upstream identity providers (`VIGIL_FEDERATION_FILE`). */
export interface InteractionFederation {
  /** The providers in force (replaced on SIGHUP). */
  registry: () => FederationRegistry;
  signIn: FederatedSignIn;
  store: FederationStore;
}

/** The upstream sign-in a session began with: recorded with the session for the upstream's session events. */
export interface FederatedOrigin {
  provider: string;
  subject: string;
  upstreamSession?: string;
}

export interface InteractionDeps {
  config: Config;
  provider: () => Provider;
  accounts: AccountStore;
  throttle: LoginThrottle;
  /** Failed second-factor attempts per account. */
  factorLimiter: AttemptLimiter;
  /** Entries are stored before `append` resolves. */
  audit: Pick<AuditLog, 'append'>;
  keys: KeyRing;
  views: Views;
  metrics: Metrics;
  logger: Logger;
  totp: TotpFactors;
  recovery: RecoveryCodes;
  passkeys: Passkeys;
  challenges: ChallengeStore;
  verifier: ContinuousVerifier;
  deviceCookie: DeviceCookie;
  /** Shared Signals: CAEP assurance-level-change when a step-up raises a session's acr. */
  securityEvents?: SecurityEventSink;
  /** What an account's next sign-in must reach (a compromised password); met by the sign-in that reaches it. */
  signInRequirements: SignInRequirements;
  /** "Forgot password?": the reset link mailed to the address typed. */
  accountRecovery: Pick<AccountRecovery, 'requestReset'>;
  federation?: InteractionFederation;
  /** Told of every completed sign-in (the break-glass alarm); a failure is logged, never refuses the sign-in. */
  onSignedIn?: (accountId: string, use: { ip?: string; client?: string; acr: string }) => Promise<void>;
}

export type Interaction = Awaited<ReturnType<Provider['interactionDetails']>>;

/** Who is proving a second factor, and what they proved already. */
export interface FactorSubject {
  accountId: string;
  baseAmr: string[];
  /** A signed-in session asked for more (step-up), rather than a sign-in in progress. */
  stepUp: boolean;
  /** Who asked for the step-up when not (only) the application: the person's administrator or a security event, or the risk engine for this session. */
  stepUpOwedBy?: 'person' | 'session';
  /** The acr the risk assessment of this sign-in demands (beyond what the request asks). */
  riskAcr?: string;
  /** What the risk engine assessed at the password step, recorded when the sign-in completes. */
  risk?: RiskContext;
  /** The acr the first step earned beyond what its methods say: a trusted upstream provider's. */
  baseAcr?: string;
  /** The first step was a sign-in at an upstream provider. */
  federation?: FederatedOrigin;
  /**
   * The password step of this very request, going straight on (so nothing of it was kept for the
   * second-factor step), and whether the account owed a sign-in requirement when it read them.
   */
  checkedNow?: { owed: boolean };
}

/** The first step of a sign-in (a password, an upstream provider's sign-in), kept for the second-factor step. */
interface FirstStepDone {
  amr: string[];
  riskAcr?: string;
  risk?: RiskContext;
  baseAcr?: string;
  federation?: FederatedOrigin;
}

export interface FactorChoices {
  passkey: boolean;
  totp: boolean;
  recovery: boolean;
}

const PASSWORD_CHECKED = 'login.password';

/** What the login and second-factor pages share: CSRF, the interaction, finishing a sign-in. */
export class InteractionKit {
  readonly deps: InteractionDeps;

  constructor(deps: InteractionDeps) {
    this.deps = deps;
  }

  csrf(uid: string): string {
    return this.deps.keys.mac('csrf', `interaction:${uid}`);
  }

  checkCsrf(uid: string, value: unknown): void {
    if (typeof value !== 'string' || !constantTimeEqual(value, this.csrf(uid))) {
      throw invalidRequest('the form has expired or did not come from this page; please start again', msg('login.errors.formExpired'));
    }
  }

  /** The interaction of this browser; it must be the one in the URL and (if given) at that prompt. */
  async interaction(ctx: Context, prompt?: 'login' | 'consent'): Promise<Interaction> {
    const interaction = await this.deps.provider().interactionDetails(ctx.req, ctx.res);
    if (interaction.uid !== ctx.params.uid || (prompt && interaction.prompt.name !== prompt)) {
      throw invalidRequest('this step is no longer current; please start again', msg('login.errors.stepGone'));
    }
    return interaction;
  }

  async clientName(interaction: Interaction): Promise<string | Message | undefined> {
    return clientNameOf(this.deps.views, await this.deps.provider().Client.find(interaction.params.client_id as string));
  }

  requiredAcr(interaction: Interaction): string | undefined {
    return (interaction.prompt.details as { requiredAcr?: string }).requiredAcr;
  }

  /** The level this sign-in must reach: what the request needs, raised by the risk assessment. */
  need(interaction: Interaction, subject: FactorSubject | undefined): string | undefined {
    return strongestAcr([this.requiredAcr(interaction), subject?.riskAcr]);
  }

  /** Remembers that the first step (password, upstream sign-in) passed, and what the risk engine made of it, for the second-factor step. */
  async passwordChecked(interaction: Interaction, subject: FactorSubject): Promise<void> {
    const ttl = Math.max(60, (interaction.exp ?? 0) - Math.floor(Date.now() / 1000));
    const { baseAmr: amr, riskAcr, risk, baseAcr, federation } = subject;
    const data: FirstStepDone = { amr, ...(riskAcr ? { riskAcr } : {}), ...(risk ? { risk } : {}), ...(baseAcr ? { baseAcr } : {}), ...(federation ? { federation } : {}) };
    await this.deps.challenges.put(interaction.uid, PASSWORD_CHECKED, data, ttl, subject.accountId);
  }

  async factorSubject(interaction: Interaction): Promise<FactorSubject | undefined> {
    const pending = await this.deps.challenges.peek<FirstStepDone>(interaction.uid, PASSWORD_CHECKED);
    if (pending?.accountId) {
      const { amr, riskAcr, risk, baseAcr, federation } = pending.data;
      return {
        accountId: pending.accountId, baseAmr: amr, stepUp: false,
        ...(riskAcr ? { riskAcr } : {}), ...(risk ? { risk } : {}), ...(baseAcr ? { baseAcr } : {}), ...(federation ? { federation } : {}),
      };
    }
    const session = interaction.session as { accountId?: string; amr?: string[] } | undefined;
    const reasons = interaction.prompt.reasons;
    if (session?.accountId && reasons.length > 0 && reasons.every((r) => r === 'acr_insufficient')) {
      const { stepUpOwedBy } = interaction.prompt.details as { stepUpOwedBy?: 'person' | 'session' };
      return { accountId: session.accountId, baseAmr: session.amr ?? [], stepUp: true, ...(stepUpOwedBy ? { stepUpOwedBy } : {}) };
    }
    return undefined;
  }

  /** Whether the account can prove anything beyond its password. */
  async hasSecondFactor(accountId: string): Promise<boolean> {
    const choices = await this.factorChoices({ accountId, baseAmr: ['pwd'] }, ACR.twoFactor);
    return choices.passkey || choices.totp || choices.recovery;
  }

  /** The second factors that can lift `baseAmr` to the level needed. */
  async factorChoices(subject: Pick<FactorSubject, 'accountId' | 'baseAmr'>, need: string | undefined): Promise<FactorChoices> {
    const [passkeys, totp, recoveryLeft] = await Promise.all([
      this.deps.passkeys.list(subject.accountId),
      this.deps.totp.isEnrolled(subject.accountId),
      this.deps.recovery.remaining(subject.accountId),
    ]);
    const withOtp = satisfies(acrForAmr(combineAmr(subject.baseAmr, ['otp'])), need);
    return { passkey: passkeys.length > 0, totp: totp && withOtp, recovery: recoveryLeft > 0 && withOtp };
  }

  /**
   * Completes the login prompt: the session gets the acr the methods earn. A sign-in the risk
   * engine has not assessed yet (passkey only, a step-up) is assessed now: it may be refused, or
   * need more than the methods used gave. The assessed sign-in joins the account's history.
   * The acr is what the methods earn, or the first step's `baseAcr` (a trusted upstream's) when higher.
   */
  async finish(ctx: Context, interaction: Interaction, accountId: string, amr: string[], subject?: FactorSubject): Promise<string> {
    const acr = strongestAcr([acrForAmr(amr), subject?.baseAcr]) ?? acrForAmr(amr);
    let risk = subject?.risk;
    if (!risk) {
      const verdict = await this.assessLogin(ctx, interaction, accountId);
      const decision = verdict?.assessment.decision;
      if (decision?.action === 'deny' || (decision?.action === 'mfa' && !satisfies(acr, decision.acr))) {
        await this.deps.audit.append({
          actor: accountId, action: 'login', ip: ctx.state.clientIp, outcome: 'denied',
          details: { reason: 'risk', client: interaction.params.client_id, decision, score: verdict!.assessment.score },
        });
        this.deps.metrics.logins.inc({ outcome: 'risk_denied' });
        return this.abort(ctx, 'access_denied', 'The sign-in was refused because it looks unusual for this account.');
      }
      risk = verdict?.context;
    }
    if (!subject?.checkedNow) await this.deps.challenges.take(interaction.uid, PASSWORD_CHECKED);
    // Nothing owed when read in this request: none to meet (one added since stays owed, for the next sign-in).
    if (subject?.checkedNow?.owed !== false) await this.deps.signInRequirements.met(accountId, acr);
    this.deps.metrics.logins.inc({ outcome: 'success' });
    await this.deps.audit.append({
      actor: accountId, action: 'login', ip: ctx.state.clientIp, outcome: 'success',
      details: { client: interaction.params.client_id, acr, amr, ...(subject?.federation ? { provider: subject.federation.provider } : {}) },
    });
    await this.deps.onSignedIn?.(accountId, { ip: ctx.state.clientIp, client: interaction.params.client_id as string, acr })
      .catch((err) => this.deps.logger.error({ err }, 'could not raise the sign-in alarm'));
    const before = subject?.stepUp ? acrForAmr(subject.baseAmr) : undefined;
    if (before !== undefined && acrLevel(acr) > acrLevel(before)) {
      await this.deps.securityEvents?.emit([assuranceLevelChange(accountId, before, acr, 'increase')])
        .catch((err) => this.deps.logger.error({ err }, 'could not queue the assurance-level-change security event'));
    }
    if (risk) {
      await this.deps.verifier.recordLogin(risk).catch((err) => this.deps.logger.warn({ err }, 'could not record the sign-in in the risk history'));
    }
    // `federation` rides with the result to the authorization that creates the session (recorded there).
    return this.result(interaction, {
      login: { accountId, acr, amr, remember: true },
      ...(subject?.federation ? { federation: subject.federation } : {}),
    }, false);
  }

  /**
   * oidc-provider's interactionResult on the interaction this request has read and checked
   * already: its own would read the interaction, and its session, from the store once more.
   * Saves the result (merged into the last submission's, or in its place) and gives the URL to resume at.
   */
  async result(interaction: Interaction, result: InteractionResults, mergeWithLastSubmission: boolean): Promise<string> {
    interaction.result = mergeWithLastSubmission && !('error' in result) ? { ...interaction.lastSubmission, ...result } : result;
    await interaction.save(interaction.exp - Math.floor(Date.now() / 1000));
    return interaction.returnTo;
  }

  /** The risk assessment of a sign-in by this browser (its device cookie is issued if it has none). */
  async assessLogin(ctx: Context, interaction: Interaction, accountId: string): Promise<LoginVerdict | undefined> {
    if (!this.deps.verifier.enabled) return undefined;
    return this.deps.verifier.assessLogin({
      accountId,
      clientId: interaction.params.client_id as string,
      ip: ctx.state.clientIp as string,
      userAgent: ctx.get('user-agent'),
      deviceId: this.deps.deviceCookie.ensure(ctx),
    });
  }

  /** Ends the interaction with an OAuth error for the client. */
  async abort(ctx: Context, error: string, description: string): Promise<string> {
    await this.deps.challenges.take(ctx.params.uid, PASSWORD_CHECKED);
    return this.deps.provider().interactionResult(ctx.req, ctx.res, { error, error_description: description }, { mergeWithLastSubmission: false });
  }
}

/**
 * The name of the directory (LDAP provider) whose domain `email` is in: its people's password is the
 * directory's, so Vigil's "Forgot password?" would set one that is never asked for.
 */
export function directoryOf(federation: InteractionFederation | undefined, email: string): string | undefined {
  const routed = federation?.registry().route(email);
  return routed?.source.kind === 'ldap' ? routed.config.display_name : undefined;
}

export function seeOther(ctx: Context, url: string): void {
  ctx.status = 303;
  ctx.redirect(url);
}

/** An OAuth error whose page tells the person `message` in their language (the error boundary's). */
export function invalidRequest(description: string, message: Message): Error {
  return Object.assign(new errors.InvalidRequest(description), { pageMessage: message });
}
