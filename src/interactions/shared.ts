import type { Context } from 'koa';
import type Provider from 'oidc-provider';
import { errors } from 'oidc-provider';
import type { Config } from '../config/index.ts';
import { constantTimeEqual, type KeyRing } from '../crypto/index.ts';
import type { AccountStore } from '../identity/index.ts';
import type { AuditLog } from '../audit/index.ts';
import type { Logger, Metrics } from '../observability/index.ts';
import { acrForAmr, combineAmr, satisfies, type ChallengeStore, type Passkeys, type RecoveryCodes, type TotpFactors } from '../mfa/index.ts';
import type { Views } from '../http/views.ts';
import type { AttemptLimiter, LoginThrottle } from './login-throttle.ts';

export interface InteractionDeps {
  config: Config;
  provider: () => Provider;
  accounts: AccountStore;
  throttle: LoginThrottle;
  /** Failed second-factor attempts per account. */
  factorLimiter: AttemptLimiter;
  audit: AuditLog;
  keys: KeyRing;
  views: Views;
  metrics: Metrics;
  logger: Logger;
  totp: TotpFactors;
  recovery: RecoveryCodes;
  passkeys: Passkeys;
  challenges: ChallengeStore;
}

export type Interaction = Awaited<ReturnType<Provider['interactionDetails']>>;

/** Who is proving a second factor, and what they proved already. */
export interface FactorSubject {
  accountId: string;
  baseAmr: string[];
  /** A signed-in session asked for more (step-up), rather than a sign-in in progress. */
  stepUp: boolean;
}

export interface FactorChoices {
  passkey: boolean;
  totp: boolean;
  recovery: boolean;
}

const PASSWORD_CHECKED = 'login.password';

export function formatWait(seconds: number): string {
  if (seconds < 90) return `${seconds} seconds`;
  return `${Math.ceil(seconds / 60)} minutes`;
}

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
      throw new errors.InvalidRequest('the form has expired or did not come from this page; please start again');
    }
  }

  /** The interaction of this browser; it must be the one in the URL and (if given) at that prompt. */
  async interaction(ctx: Context, prompt?: 'login' | 'consent'): Promise<Interaction> {
    const interaction = await this.deps.provider().interactionDetails(ctx.req, ctx.res);
    if (interaction.uid !== ctx.params.uid || (prompt && interaction.prompt.name !== prompt)) {
      throw new errors.InvalidRequest('this step is no longer current; please start again');
    }
    return interaction;
  }

  async clientName(interaction: Interaction): Promise<string | undefined> {
    const client = await this.deps.provider().Client.find(interaction.params.client_id as string);
    return client?.clientName ?? client?.clientId;
  }

  requiredAcr(interaction: Interaction): string | undefined {
    return (interaction.prompt.details as { requiredAcr?: string }).requiredAcr;
  }

  /** Remembers that the password was right, for the second-factor step of the same interaction. */
  async passwordChecked(interaction: Interaction, accountId: string): Promise<void> {
    const ttl = Math.max(60, (interaction.exp ?? 0) - Math.floor(Date.now() / 1000));
    await this.deps.challenges.put(interaction.uid, PASSWORD_CHECKED, { amr: ['pwd'] }, ttl, accountId);
  }

  async factorSubject(interaction: Interaction): Promise<FactorSubject | undefined> {
    const pending = await this.deps.challenges.peek<{ amr: string[] }>(interaction.uid, PASSWORD_CHECKED);
    if (pending?.accountId) return { accountId: pending.accountId, baseAmr: pending.data.amr, stepUp: false };
    const session = interaction.session as { accountId?: string; amr?: string[] } | undefined;
    const reasons = interaction.prompt.reasons;
    if (session?.accountId && reasons.length > 0 && reasons.every((r) => r === 'acr_insufficient')) {
      return { accountId: session.accountId, baseAmr: session.amr ?? [], stepUp: true };
    }
    return undefined;
  }

  /** The second factors that can lift `baseAmr` to the level needed. */
  async factorChoices(subject: FactorSubject, need: string | undefined): Promise<FactorChoices> {
    const [passkeys, totp, recoveryLeft] = await Promise.all([
      this.deps.passkeys.list(subject.accountId),
      this.deps.totp.isEnrolled(subject.accountId),
      this.deps.recovery.remaining(subject.accountId),
    ]);
    const withOtp = satisfies(acrForAmr(combineAmr(subject.baseAmr, ['otp'])), need);
    return { passkey: passkeys.length > 0, totp: totp && withOtp, recovery: recoveryLeft > 0 && withOtp };
  }

  /** Completes the login prompt: the session gets the acr the methods earn. */
  async finish(ctx: Context, interaction: Interaction, accountId: string, amr: string[]): Promise<string> {
    const acr = acrForAmr(amr);
    await this.deps.challenges.take(interaction.uid, PASSWORD_CHECKED);
    this.deps.metrics.logins.inc({ outcome: 'success' });
    await this.deps.audit.append({
      actor: accountId, action: 'login', ip: ctx.state.clientIp, outcome: 'success',
      details: { client: interaction.params.client_id, acr, amr },
    });
    return this.deps.provider().interactionResult(ctx.req, ctx.res, {
      login: { accountId, acr, amr, remember: true },
    }, { mergeWithLastSubmission: false });
  }

  /** Ends the interaction with an OAuth error for the client. */
  async abort(ctx: Context, error: string, description: string): Promise<string> {
    await this.deps.challenges.take(ctx.params.uid, PASSWORD_CHECKED);
    return this.deps.provider().interactionResult(ctx.req, ctx.res, { error, error_description: description }, { mergeWithLastSubmission: false });
  }
}

export function seeOther(ctx: Context, url: string): void {
  ctx.status = 303;
  ctx.redirect(url);
}

