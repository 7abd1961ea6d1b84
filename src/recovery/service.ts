import { ACR, type Config } from '../config/index.ts';
import type { Account, AccountStore, EmailLinkKind, EmailLinks, EmailLinkState } from '../identity/index.ts';
import { hashPassword, passwordProblemMessage } from '../identity/index.ts';
import { msg, type Message } from '../i18n/index.ts';
import type { AuditLog } from '../audit/index.ts';
import type { Mailer, MailTemplates } from '../mail/index.ts';
import type { Passkeys, RecoveryCodes, TotpFactors } from '../mfa/index.ts';
import type { Logger } from '../observability/index.ts';
import type { Revocations, StepUpRequirements } from '../sessions/index.ts';
import { credentialChange, type SecurityEventSink } from '../ssf/index.ts';
import type { RecoveryRefusal, RecoveryThrottle } from './throttle.ts';

export interface RecoveryDeps {
  config: Config;
  accounts: AccountStore;
  links: EmailLinks;
  throttle: RecoveryThrottle;
  mailer: Mailer;
  templates: MailTemplates;
  audit: AuditLog;
  revocations: Revocations;
  stepUps: StepUpRequirements;
  securityEvents?: SecurityEventSink;
  totp: TotpFactors;
  passkeys: Passkeys;
  recoveryCodes: RecoveryCodes;
  logger: Logger;
  /** Lifts the lock wrong passwords put on the account from this address (the sign-in's throttle). */
  signInUnlocked?: (email: string, ip: string) => Promise<void>;
  /** Work a request starts and does not wait for (the forgot-password mail), finished before a shutdown closes the stores. */
  background: (work: Promise<unknown>) => void;
}

/** The pages of the emailed links. */
export const RESET_PATH = '/password/reset';
export const VERIFY_PATH = '/email/verify';

export type ResetResult =
  | { ok: true; accountId: string }
  | { ok: false; problem: 'link'; state: Exclude<EmailLinkState, { ok: true }> }
  | { ok: false; problem: 'password'; message: Message };

const MAILS: Record<EmailLinkKind, { template: string; path: string; ttl: (c: Config) => number }> = {
  password_reset: { template: 'password-reset', path: RESET_PATH, ttl: (c) => c.VIGIL_PASSWORD_RESET_TTL_MINUTES },
  email_verification: { template: 'email-verification', path: VERIFY_PATH, ttl: (c) => c.VIGIL_EMAIL_VERIFICATION_TTL_MINUTES },
};

/**
 * A forgotten password and a person's proof of their address, through single-use emailed links
 * (`EmailLinks`). A new password ends every session and grant of the account, is a CAEP
 * credential-change, and leaves a person with a second factor owing it at their next sign-in:
 * the mailbox alone never replaces a factor.
 */
export class AccountRecovery {
  readonly #deps: RecoveryDeps;

  constructor(deps: RecoveryDeps) {
    this.#deps = deps;
  }

  /**
   * "Forgot password" for a typed address. The answer is the limits' only, the same for any
   * address: whether an account has it is looked up after the response, where the mail is sent,
   * in `lang`, the language of the request.
   */
  async requestReset(email: string, ip: string, lang: string): Promise<RecoveryRefusal | undefined> {
    const deps = this.#deps;
    const refused = await deps.throttle.request(email, ip);
    if (refused) {
      await deps.audit.append({ actor: email.toLowerCase(), action: 'password_reset.requested', ip, outcome: 'denied', details: { reason: 'rate_limited', limit: refused.limit } });
      return refused;
    }
    deps.background(this.#sendReset(email, ip, lang).catch((err) => deps.logger.error({ err }, 'could not send a password-reset mail')));
    return undefined;
  }

  async #sendReset(email: string, ip: string, lang: string): Promise<void> {
    const account = await this.#deps.accounts.findByEmail(email);
    if (!account || account.disabled) {
      await this.#deps.audit.append({
        actor: account?.id ?? email.toLowerCase(), action: 'password_reset.requested', ip, outcome: 'failure',
        details: { reason: account ? 'account_disabled' : 'unknown_account' },
      });
      return;
    }
    await this.#mail(account, 'password_reset', lang);
    await this.#deps.audit.append({ actor: account.id, action: 'password_reset.requested', subject: account.id, ip, outcome: 'success' });
  }

  /** A signed-in person asks for a link proving their address (the mail in `lang`, their request's language). */
  async requestVerification(account: Account, ip: string, lang: string): Promise<RecoveryRefusal | undefined> {
    const refused = await this.#deps.throttle.mailTo(account.email);
    if (refused) return refused;
    await this.#mail(account, 'email_verification', lang);
    await this.#deps.audit.append({ actor: account.id, action: 'email_verification.requested', subject: account.id, ip, outcome: 'success', details: { email: account.email } });
    return undefined;
  }

  async #mail(account: Account, kind: EmailLinkKind, lang: string): Promise<void> {
    const { config, links, templates, mailer } = this.#deps;
    const mail = MAILS[kind];
    const minutes = mail.ttl(config);
    const token = await links.issue(account.id, account.email, kind, minutes * 60);
    const url = `${config.ISSUER}${mail.path}?token=${token}`;
    const rendered = templates.render(mail.template, { name: account.displayName || account.email, email: account.email, url, expiry: describeMinutes(minutes) }, lang);
    await mailer.send({ to: account.email, ...rendered });
  }

  /** What a link opens, without using it. */
  check(token: unknown, kind: EmailLinkKind): Promise<EmailLinkState> {
    return this.#deps.links.peek(token, kind);
  }

  /**
   * Sets a new password through a reset link. A password the policy refuses changes nothing and
   * leaves the link usable. Then every session and grant of the account ends.
   */
  async completeReset(token: unknown, password: string, ip: string): Promise<ResetResult> {
    const deps = this.#deps;
    const state = await deps.links.peek(token, 'password_reset');
    if (!state.ok) return { ok: false, problem: 'link', state };
    const problem = passwordProblemMessage(password, true);
    if (problem) return { ok: false, problem: 'password', message: problem };
    const accountId = await deps.links.resetPassword(token, await hashPassword(password));
    if (!accountId) {
      // Used, expired or disabled between the check and now.
      const now = await deps.links.peek(token, 'password_reset');
      return { ok: false, problem: 'link', state: now.ok ? { ok: false, problem: 'used' } : now };
    }
    const secondFactor = await this.#hasSecondFactor(accountId);
    // Before anything ends: from here, no sign-in of the person completes without the factor.
    if (secondFactor) await deps.stepUps.requireOfAccount(accountId, ACR.twoFactor, 'password reset');
    await deps.audit.append({ actor: accountId, action: 'password_reset.completed', subject: accountId, ip, outcome: 'success', details: { secondFactorRequired: secondFactor } });
    await deps.securityEvents?.emit([credentialChange(accountId, 'password', 'update', 'user')]);
    await deps.revocations.account(accountId, { initiator: 'user', actor: accountId, reason: 'password reset', ip });
    const account = await deps.accounts.findById(accountId);
    if (account) await deps.signInUnlocked?.(account.email, ip);
    return { ok: true, accountId };
  }

  /** Proves the address through its link: the account id, or why the link opens nothing. */
  async completeVerification(token: unknown, ip: string): Promise<{ ok: true; accountId: string } | Exclude<EmailLinkState, { ok: true }>> {
    const accountId = await this.#deps.links.verifyEmail(token);
    if (!accountId) {
      const now = await this.#deps.links.peek(token, 'email_verification');
      return now.ok ? { ok: false, problem: 'used' } : now;
    }
    await this.#deps.audit.append({ actor: accountId, action: 'email_verification.completed', subject: accountId, ip, outcome: 'success' });
    return { ok: true, accountId };
  }

  async #hasSecondFactor(accountId: string): Promise<boolean> {
    const [totp, passkeys, codes] = await Promise.all([
      this.#deps.totp.isEnrolled(accountId), this.#deps.passkeys.list(accountId), this.#deps.recoveryCodes.remaining(accountId),
    ]);
    return totp || passkeys.length > 0 || codes > 0;
  }
}

/** A link's lifetime as the mail says it, in the mail's language. */
function describeMinutes(minutes: number): Message {
  if (minutes % 1440 === 0) return minutes === 1440 ? msg('common.hours', { count: 24 }) : msg('common.days', { count: minutes / 1440 });
  if (minutes % 60 === 0) return minutes === 60 ? msg('common.oneHour') : msg('common.hours', { count: minutes / 60 });
  return msg('common.waitMinutes', { count: minutes });
}
