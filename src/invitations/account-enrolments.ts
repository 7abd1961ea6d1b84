import { AccountStore, EmailLinks, type Account } from '../identity/index.ts';
import type { Queryable } from '../store/index.ts';
import type { EnrolmentState, InvitationDeps } from './invitations.ts';

/** The same as invitations': the database, the mail, the issuer and the links' lifetime (VIGIL_INVITATION_TTL_HOURS). */
export type AccountEnrolmentDeps = InvitationDeps;

/**
 * Enrolment links for accounts that exist without any way to sign in (provisioned through SCIM):
 * an emailed link (`email_links`, kind `enrolment`: hashed, single-use, expiring, dead once the
 * account is disabled or its address changes) that opens the invitation pages; completing it
 * enrols the factors on the existing account instead of creating one.
 */
export class AccountEnrolments {
  readonly #deps: AccountEnrolmentDeps;

  constructor(deps: AccountEnrolmentDeps) {
    this.#deps = deps;
  }

  /**
   * Mails the account a new enrolment link (its older one stops working) when it is enabled and has
   * no password, passkey or authenticator app. Whether a link was sent; a MailError when it could not be.
   */
  async offer(account: Account): Promise<boolean> {
    const { rows } = await this.#deps.sql.query(
      `SELECT 1 FROM accounts a WHERE a.id = $1 AND NOT a.disabled AND a.password_hash IS NULL
         AND NOT EXISTS (SELECT 1 FROM webauthn_credentials w WHERE w.account_id = a.id)
         AND NOT EXISTS (SELECT 1 FROM totp_factors f WHERE f.account_id = a.id AND f.confirmed_at IS NOT NULL)`,
      [account.id],
    );
    if (rows.length === 0) return false;
    const hours = this.#deps.config.VIGIL_INVITATION_TTL_HOURS;
    const token = await new EmailLinks(this.#deps.sql).issue(account.id, account.email, 'enrolment', hours * 3600);
    const mail = this.#deps.templates.render('enrolment', {
      name: account.displayName, email: account.email, link: `${this.#deps.config.ISSUER}/invitation/${token}`, issuer: this.#deps.config.ISSUER,
      expiresAt: new Date(Date.now() + hours * 3_600_000).toISOString(), hours,
    });
    await this.#deps.mailer.send({ to: account.email, ...mail });
    return true;
  }

  /** What the link opens; reads only. */
  async open(token: unknown): Promise<EnrolmentState> {
    const state = await new EmailLinks(this.#deps.sql).peek(token, 'enrolment');
    if (!state.ok) return { ok: false, reason: state.problem };
    const account = await new AccountStore(this.#deps.sql).findById(state.link.accountId);
    if (!account) return { ok: false, reason: 'unknown' };
    return { ok: true, enrolment: { kind: 'account', id: `enrol:${account.id}`, accountId: account.id, email: account.email, displayName: account.displayName, roles: account.roles } };
  }

  /**
   * Uses the link and stores what `enrol` stores on its account, in one transaction. Undefined when
   * the link no longer opens (used, expired, the account disabled, its address changed, or it got a
   * sign-in method meanwhile).
   */
  async complete<T>(token: unknown, passwordHash: string | undefined, enrol: (tx: Queryable, account: Account) => Promise<T>):
    Promise<{ account: Account; enrolled: T } | undefined> {
    return this.#deps.sql.transaction(async (tx) => {
      const accountId = await new EmailLinks(tx).enrol(token, passwordHash);
      const account = accountId && await new AccountStore(tx).findById(accountId);
      if (!account) return undefined;
      return { account, enrolled: await enrol(tx, account) };
    });
  }
}
