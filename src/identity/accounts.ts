import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import type { Queryable } from '../store/index.ts';
import { hashPassword, passwordProblem } from './password.ts';

export interface Account {
  id: string;
  email: string;
  displayName: string;
  roles: string[];
  disabled: boolean;
  /** The owner proved the address (an emailed link): the OIDC `email_verified` claim. */
  emailVerified: boolean;
  createdAt: Date;
}

interface AccountRow {
  id: string;
  email: string;
  display_name: string;
  roles: string[];
  disabled: boolean;
  email_verified: boolean;
  password_hash: string | null;
  created_at: Date;
}

export class AccountError extends Error {
  override name = 'AccountError';
  /** `taken`: another account has the email; `invalid`: a value breaks a rule. */
  readonly kind: 'invalid' | 'taken';

  constructor(message: string, kind: 'invalid' | 'taken' = 'invalid') {
    super(message);
    this.kind = kind;
  }
}

export const emailSchema = z.email().max(254);
export const roleSchema = z.string().regex(/^[a-z][a-z0-9_:-]{0,63}$/, 'roles are lower-case words (a-z, 0-9, _ : -)');

const toAccount = (row: AccountRow): Account => ({
  id: row.id,
  email: row.email,
  displayName: row.display_name,
  roles: row.roles,
  disabled: row.disabled,
  emailVerified: row.email_verified,
  createdAt: new Date(row.created_at),
});

const COLUMNS = 'id, email, display_name, roles, disabled, email_verified, password_hash, created_at';

/** Accounts of people. Emails are unique regardless of case. */
export class AccountStore {
  readonly #db: Queryable;

  constructor(db: Queryable) {
    this.#db = db;
  }

  /**
   * `id`: an id chosen beforehand (an invitation's, whose passkey is registered for it);
   * `passwordHash`: a password already checked against the policy and hashed (held during an enrolment);
   * `emailVerified`: the person proved the address already (an invitation's emailed link).
   */
  async create(input: { email: string; password?: string; passwordHash?: string; displayName?: string; roles?: string[]; id?: string; emailVerified?: boolean }): Promise<Account> {
    const email = emailSchema.safeParse(input.email);
    if (!email.success) throw new AccountError(`email: not a valid address: ${input.email}`);
    for (const role of input.roles ?? []) {
      const ok = roleSchema.safeParse(role);
      if (!ok.success) throw new AccountError(`role ${JSON.stringify(role)}: ${ok.error.issues[0].message}`);
    }
    if (input.password !== undefined) {
      const problem = passwordProblem(input.password);
      if (problem) throw new AccountError(`password: ${problem}`);
    }
    const hash = input.password === undefined ? input.passwordHash ?? null : await hashPassword(input.password);
    const { rows } = await this.#db.query<AccountRow>(
      `INSERT INTO accounts (id, email, display_name, roles, password_hash, email_verified) VALUES ($1, $2, $3, $4, $5, $6)
       ON CONFLICT DO NOTHING RETURNING ${COLUMNS}`,
      [input.id ?? randomUUID(), email.data, input.displayName ?? '', [...new Set(input.roles ?? [])], hash, input.emailVerified ?? false],
    );
    if (!rows[0]) throw new AccountError(`email: an account with ${email.data} already exists`, 'taken');
    return toAccount(rows[0]);
  }

  async findById(id: string): Promise<Account | undefined> {
    const { rows } = await this.#db.query<AccountRow>(`SELECT ${COLUMNS} FROM accounts WHERE id = $1`, [id]);
    return rows[0] && toAccount(rows[0]);
  }

  async findByEmail(email: string): Promise<Account | undefined> {
    return (await this.findForLogin(email))?.account;
  }

  /** The account and its password hash, for the login check only. */
  async findForLogin(email: string): Promise<{ account: Account; passwordHash: string | null } | undefined> {
    const { rows } = await this.#db.query<AccountRow>(`SELECT ${COLUMNS} FROM accounts WHERE lower(email) = lower($1)`, [email]);
    return rows[0] && { account: toAccount(rows[0]), passwordHash: rows[0].password_hash };
  }

  async list(): Promise<Account[]> {
    const { rows } = await this.#db.query<AccountRow>(`SELECT ${COLUMNS} FROM accounts ORDER BY created_at, email`);
    return rows.map(toAccount);
  }

  async setDisabled(email: string, disabled: boolean): Promise<Account | undefined> {
    const { rows } = await this.#db.query<AccountRow>(
      `UPDATE accounts SET disabled = $2, updated_at = now() WHERE lower(email) = lower($1) RETURNING ${COLUMNS}`,
      [email, disabled],
    );
    return rows[0] && toAccount(rows[0]);
  }

  /** Replaces the account's roles; with the roles it had, or undefined when there is no such account. */
  async setRoles(id: string, roles: readonly string[]): Promise<{ account: Account; previous: string[] } | undefined> {
    for (const role of roles) {
      const ok = roleSchema.safeParse(role);
      if (!ok.success) throw new AccountError(`role ${JSON.stringify(role)}: ${ok.error.issues[0].message}`);
    }
    const { rows } = await this.#db.query<AccountRow & { previous_roles: string[] }>(
      `WITH old AS (SELECT id, roles FROM accounts WHERE id = $1 FOR UPDATE)
       UPDATE accounts a SET roles = $2, updated_at = now() FROM old WHERE a.id = old.id
       RETURNING ${COLUMNS.split(', ').map((c) => `a.${c}`).join(', ')}, old.roles AS previous_roles`,
      [id, [...new Set(roles)].sort()],
    );
    return rows[0] && { account: toAccount(rows[0]), previous: rows[0].previous_roles };
  }

  /** Changes the email and/or display name; with what they were, or undefined when there is no such account. */
  async updateProfile(id: string, change: { email?: string; displayName?: string }): Promise<{ account: Account; previous: Account } | undefined> {
    let email: string | undefined;
    if (change.email !== undefined) {
      const parsed = emailSchema.safeParse(change.email);
      if (!parsed.success) throw new AccountError(`email: not a valid address: ${change.email}`);
      email = parsed.data;
    }
    const { rows } = await this.#db.query<AccountRow & { previous_email: string; previous_name: string }>(
      `WITH old AS (SELECT id, email, display_name FROM accounts WHERE id = $1 FOR UPDATE)
       UPDATE accounts a SET email = coalesce($2, a.email),
         email_verified = a.email_verified AND ($2::text IS NULL OR lower($2) = lower(old.email)), display_name = coalesce($3, a.display_name), updated_at = now() FROM old WHERE a.id = old.id
       AND NOT EXISTS (SELECT 1 FROM accounts o WHERE lower(o.email) = lower($2) AND o.id <> $1)
       RETURNING ${COLUMNS.split(', ').map((c) => `a.${c}`).join(', ')}, old.email AS previous_email, old.display_name AS previous_name`,
      [id, email ?? null, change.displayName ?? null],
    ).catch((err: { code?: string }) => {
      // Two changes racing to the same email: the unique index decides.
      if (err.code === '23505') throw new AccountError(`email: an account with ${email} already exists`, 'taken');
      throw err;
    });
    if (!rows[0]) {
      if (email !== undefined && await this.findById(id)) throw new AccountError(`email: an account with ${email} already exists`, 'taken');
      return undefined;
    }
    const account = toAccount(rows[0]);
    return { account, previous: { ...account, email: rows[0].previous_email, displayName: rows[0].previous_name } };
  }

  /**
   * The owner proved the account's address (an emailed link, an accepted invitation). False when
   * there is no such account.
   */
  async markEmailVerified(id: string): Promise<boolean> {
    const { rowCount } = await this.#db.query('UPDATE accounts SET email_verified = true, updated_at = now() WHERE id = $1', [id]);
    return rowCount > 0;
  }

  async hasRole(role: string): Promise<boolean> {
    const { rowCount } = await this.#db.query('SELECT 1 FROM accounts WHERE $1 = ANY(roles) LIMIT 1', [role]);
    return rowCount > 0;
  }
}
