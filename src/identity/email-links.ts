import { linkTokenHash, newLinkToken } from '../crypto/index.ts';
import type { Queryable } from '../store/index.ts';

/** What an emailed link of account recovery is for. */
export type EmailLinkKind = 'password_reset' | 'email_verification';
/** Every kind of emailed link: recovery's, and the enrolment link of an account that has no sign-in method yet. */
export type StoredLinkKind = EmailLinkKind | 'enrolment';

/** Why a link opens nothing: never issued (or replaced by a newer one, or cut), used already, or past its time. */
export type EmailLinkProblem = 'unknown' | 'used' | 'expired';

export interface EmailLink {
  accountId: string;
  email: string;
  expiresAt: Date;
}

export type EmailLinkState = { ok: true; link: EmailLink } | { ok: false; problem: EmailLinkProblem };

interface LinkRow {
  account_id: string;
  email: string;
  expires_at: Date;
  used_at: Date | null;
  live: boolean;
}

/**
 * The single-use links Vigil mails to a person (`email_links`, migration 014). Only the token's
 * hash is stored. A link opens only while it is unused, unexpired, its account enabled and the
 * account's address still the one it was sent to; using it is one statement, so two submissions of
 * one link cannot both succeed.
 */
export class EmailLinks {
  readonly #db: Queryable;

  constructor(db: Queryable) {
    this.#db = db;
  }

  /** A new link for the account's current address; the account's older links of this kind stop working. */
  async issue(accountId: string, email: string, kind: StoredLinkKind, ttlSeconds: number): Promise<string> {
    const { token, hash } = newLinkToken();
    await this.#db.query(
      `WITH replaced AS (DELETE FROM email_links WHERE account_id = $2 AND kind = $3)
       INSERT INTO email_links (token_hash, kind, account_id, email, expires_at) VALUES ($1, $3, $2, $4, now() + make_interval(secs => $5))`,
      [hash, accountId, kind, email, ttlSeconds],
    );
    return token;
  }

  /** What the link in a URL opens, without using it (a mail scanner's prefetch changes nothing). */
  async peek(token: unknown, kind: StoredLinkKind): Promise<EmailLinkState> {
    const hash = linkTokenHash(token);
    if (!hash) return { ok: false, problem: 'unknown' };
    const { rows } = await this.#db.query<LinkRow>(
      `SELECT l.account_id, l.email, l.expires_at, l.used_at, (NOT a.disabled AND lower(a.email) = lower(l.email)) AS live
       FROM email_links l JOIN accounts a ON a.id = l.account_id WHERE l.token_hash = $1 AND l.kind = $2`,
      [hash, kind],
    );
    const row = rows[0];
    if (!row || !row.live) return { ok: false, problem: 'unknown' };
    if (row.used_at) return { ok: false, problem: 'used' };
    if (new Date(row.expires_at).getTime() <= Date.now()) return { ok: false, problem: 'expired' };
    return { ok: true, link: { accountId: row.account_id, email: row.email, expiresAt: new Date(row.expires_at) } };
  }

  /**
   * Uses a password-reset link: in one statement the link is marked used, the account gets
   * `passwordHash` and its address counts as proved. The account id, or undefined when the link
   * no longer opens (used meanwhile, expired, the account disabled or its address changed).
   */
  async resetPassword(token: unknown, passwordHash: string): Promise<string | undefined> {
    return this.#use(token, 'password_reset', 'password_hash = $2, email_verified = true', [passwordHash]);
  }

  /** Uses an address-check link: the account's address counts as proved. As `resetPassword` for the answer. */
  async verifyEmail(token: unknown): Promise<string | undefined> {
    return this.#use(token, 'email_verification', 'email_verified = true', []);
  }

  /**
   * Uses an enrolment link: the account gets `passwordHash` (if any) and its address counts as
   * proved, only while it still has no sign-in method (no password, passkey or authenticator app).
   * Run in the transaction that stores the factors. As `resetPassword` for the answer.
   */
  async enrol(token: unknown, passwordHash: string | undefined): Promise<string | undefined> {
    return this.#use(token, 'enrolment', 'password_hash = $2::text, email_verified = true', [passwordHash ?? null],
      `AND a.password_hash IS NULL AND NOT EXISTS (SELECT 1 FROM webauthn_credentials w WHERE w.account_id = a.id)
       AND NOT EXISTS (SELECT 1 FROM totp_factors f WHERE f.account_id = a.id AND f.confirmed_at IS NOT NULL)`);
  }

  async #use(token: unknown, kind: StoredLinkKind, set: string, extra: unknown[], condition = ''): Promise<string | undefined> {
    const hash = linkTokenHash(token);
    if (!hash) return undefined;
    const { rows } = await this.#db.query<{ id: string }>(
      `WITH used AS (
         UPDATE email_links l SET used_at = now() FROM accounts a
         WHERE l.token_hash = $1 AND l.kind = '${kind}' AND l.used_at IS NULL AND l.expires_at > now()
           AND a.id = l.account_id AND NOT a.disabled AND lower(a.email) = lower(l.email) ${condition}
         RETURNING l.account_id)
       UPDATE accounts SET ${set}, updated_at = now() WHERE id IN (SELECT account_id FROM used) RETURNING id`,
      [hash, ...extra],
    );
    return rows[0]?.id;
  }

  /** Rows past their time by more than a day (used or not): nothing opens them any more. */
  async purge(): Promise<void> {
    await this.#db.query("DELETE FROM email_links WHERE expires_at < now() - interval '1 day'");
  }
}
