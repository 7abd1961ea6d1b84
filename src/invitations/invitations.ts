import { randomUUID } from 'node:crypto';
import { linkTokenHash, newLinkToken } from '../crypto/index.ts';
import { AccountStore, emailSchema, roleSchema, type Account } from '../identity/index.ts';
import { MailError, type Mailer, type MailTemplates } from '../mail/index.ts';
import type { Queryable, Sql } from '../store/index.ts';

export type InvitationStatus = 'pending' | 'used' | 'revoked' | 'expired';

export interface Invitation {
  id: string;
  email: string;
  displayName: string;
  roles: string[];
  /** The id the account gets when the person enrols. */
  accountId: string;
  invitedBy: string;
  createdAt: Date;
  expiresAt: Date;
  usedAt?: Date;
  revokedAt?: Date;
  status: InvitationStatus;
}

/**
 * Why an invitation was refused: `invalid` input, an email that is `taken` or already `invited`,
 * mail that could not be sent (`unsent`), or a revocation of one that is no longer pending (`closed`).
 */
export type InvitationRefusal = 'invalid' | 'taken' | 'invited' | 'unsent' | 'closed';

export class InvitationError extends Error {
  override name = 'InvitationError';
  readonly kind: InvitationRefusal;

  constructor(message: string, kind: InvitationRefusal) {
    super(message);
    this.kind = kind;
  }
}

/** What a link's token leads to: the open invitation, or why it cannot be used. */
export type LinkState = { ok: true; invitation: Invitation } | { ok: false; reason: 'forged' | 'unknown' | Exclude<InvitationStatus, 'pending'> };

/**
 * What an enrolment link opens: an invitation (its account is created when the person enrols) or
 * an existing account without any sign-in method (`AccountEnrolments`).
 */
export interface Enrolment {
  kind: 'invitation' | 'account';
  /** The invitation's id, or `enrol:<account id>`: what the pages' form tokens and holds are bound to. */
  id: string;
  accountId: string;
  email: string;
  displayName: string;
  roles: string[];
}

export type EnrolmentState = { ok: true; enrolment: Enrolment } | { ok: false; reason: Exclude<LinkState, { ok: true }>['reason'] };

export const invitationEnrolment = (i: Invitation): Enrolment =>
  ({ kind: 'invitation', id: i.id, accountId: i.accountId, email: i.email, displayName: i.displayName, roles: i.roles });

interface Row {
  id: string;
  email: string;
  display_name: string;
  roles: string[];
  account_id: string;
  invited_by: string;
  created_at: Date;
  expires_at: Date;
  used_at: Date | null;
  revoked_at: Date | null;
  status: InvitationStatus;
}

const COLUMNS = `id, email, display_name, roles, account_id, invited_by, created_at, expires_at, used_at, revoked_at,
  CASE WHEN used_at IS NOT NULL THEN 'used' WHEN revoked_at IS NOT NULL THEN 'revoked' WHEN expires_at <= now() THEN 'expired' ELSE 'pending' END AS status`;

const toInvitation = (r: Row): Invitation => ({
  id: r.id, email: r.email, displayName: r.display_name, roles: r.roles, accountId: r.account_id, invitedBy: r.invited_by,
  createdAt: new Date(r.created_at), expiresAt: new Date(r.expires_at),
  ...(r.used_at ? { usedAt: new Date(r.used_at) } : {}), ...(r.revoked_at ? { revokedAt: new Date(r.revoked_at) } : {}),
  status: r.status,
});

/** An invitation as the admin API, the console and the CLI's --json show it (never its link). */
export interface InvitationView {
  id: string;
  email: string;
  name: string;
  roles: string[];
  status: InvitationStatus;
  invitedBy: string;
  createdAt: string;
  expiresAt: string;
  usedAt: string | null;
  revokedAt: string | null;
  /** The account made by the enrolment; null until the invitation is used. */
  accountId: string | null;
}

export function invitationView(i: Invitation): InvitationView {
  return {
    id: i.id, email: i.email, name: i.displayName, roles: i.roles, status: i.status, invitedBy: i.invitedBy,
    createdAt: i.createdAt.toISOString(), expiresAt: i.expiresAt.toISOString(), usedAt: i.usedAt?.toISOString() ?? null,
    revokedAt: i.revokedAt?.toISOString() ?? null, accountId: i.status === 'used' ? i.accountId : null,
  };
}

export const INVITATION_ID = /^inv_[0-9a-f-]{36}$/;

export interface InvitationDeps {
  sql: Sql;
  mailer: Mailer;
  templates: MailTemplates;
  config: { ISSUER: string; VIGIL_INVITATION_TTL_HOURS: number };
}

/**
 * Invitations to enrol: stored with the hash of their link's token only, mailed, listed, revoked,
 * and used once. Inviting, listing and revoking are the same for the admin API, the console and
 * the CLI (each audits as its caller); using is the enrolment pages' (`complete`).
 */
export class Invitations {
  readonly #deps: InvitationDeps;

  constructor(deps: InvitationDeps) {
    this.#deps = deps;
  }

  /**
   * Stores an invitation and mails its link. Refused, storing nothing: a malformed email or role,
   * an email that has an account or an open invitation, mail that could not be sent.
   */
  async invite(input: { email: string; name?: string; roles?: string[] }, invitedBy: string): Promise<Invitation> {
    const email = emailSchema.safeParse(input.email);
    if (!email.success) throw new InvitationError(`email: not a valid address: ${input.email}`, 'invalid');
    const name = (input.name ?? '').trim();
    if (name.length > 200) throw new InvitationError('name: at most 200 characters', 'invalid');
    for (const role of input.roles ?? []) {
      const ok = roleSchema.safeParse(role);
      if (!ok.success) throw new InvitationError(`role ${JSON.stringify(role)}: ${ok.error.issues[0].message}`, 'invalid');
    }
    const { token, hash } = newLinkToken();
    const invitation = await this.#deps.sql.transaction(async (tx) => {
      // An expired invitation no longer holds its email.
      await tx.query(
        `UPDATE invitations SET lapsed_at = now() WHERE lower(email) = lower($1) AND used_at IS NULL AND revoked_at IS NULL AND lapsed_at IS NULL AND expires_at <= now()`,
        [email.data],
      );
      const taken = await tx.query('SELECT 1 FROM accounts WHERE lower(email) = lower($1)', [email.data]);
      if (taken.rowCount > 0) throw new InvitationError(`email: an account with ${email.data} already exists`, 'taken');
      const { rows } = await tx.query<Row>(
        `INSERT INTO invitations (id, token_hash, email, display_name, roles, account_id, invited_by, expires_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, now() + make_interval(hours => $8)) ON CONFLICT DO NOTHING RETURNING ${COLUMNS}`,
        [`inv_${randomUUID()}`, hash, email.data, name, [...new Set(input.roles ?? [])].sort(), randomUUID(), invitedBy, this.#deps.config.VIGIL_INVITATION_TTL_HOURS],
      );
      if (!rows[0]) throw new InvitationError(`email: ${email.data} already has an invitation waiting; revoke it to invite again`, 'invited');
      return toInvitation(rows[0]);
    });
    try {
      await this.#mail(invitation, token);
    } catch (err) {
      // Nobody could use an invitation whose link never left: it is not kept.
      await this.#deps.sql.query('DELETE FROM invitations WHERE id = $1', [invitation.id]);
      if (err instanceof MailError) throw new InvitationError(`the invitation could not be mailed: ${err.message}`, 'unsent');
      throw err;
    }
    return invitation;
  }

  async #mail(invitation: Invitation, token: string): Promise<void> {
    const link = `${this.#deps.config.ISSUER}/invitation/${token}`;
    const mail = this.#deps.templates.render('invitation', {
      name: invitation.displayName, email: invitation.email, link, issuer: this.#deps.config.ISSUER, expiresAt: invitation.expiresAt.toISOString(),
      hours: this.#deps.config.VIGIL_INVITATION_TTL_HOURS,
    });
    await this.#deps.mailer.send({ to: invitation.email, ...mail });
  }

  /** Newest first; `pending` only the ones that can still be used. */
  /**
   * Deletes invitations expired more than `keepDays` ago (used, revoked or never answered): the
   * console lists them that long; the audit trail keeps their story. How many.
   */
  async purge(keepDays = 90): Promise<number> {
    const { rowCount } = await this.#deps.sql.query("DELETE FROM invitations WHERE expires_at < now() - make_interval(days => $1)", [keepDays]);
    return rowCount;
  }

  async list(options: { pending?: boolean; limit?: number } = {}): Promise<Invitation[]> {
    const { rows } = await this.#deps.sql.query<Row>(
      `SELECT ${COLUMNS} FROM invitations ${options.pending ? 'WHERE used_at IS NULL AND revoked_at IS NULL AND expires_at > now()' : ''}
       ORDER BY created_at DESC, id LIMIT $1`,
      [options.limit ?? 200],
    );
    return rows.map(toInvitation);
  }

  async find(id: string): Promise<Invitation | undefined> {
    if (!INVITATION_ID.test(id)) return undefined;
    const { rows } = await this.#deps.sql.query<Row>(`SELECT ${COLUMNS} FROM invitations WHERE id = $1`, [id]);
    return rows[0] && toInvitation(rows[0]);
  }

  /** Revokes a pending invitation (undefined: there is none with this id); one that is not pending is refused (`closed`). */
  async revoke(id: string): Promise<Invitation | undefined> {
    if (!INVITATION_ID.test(id)) return undefined;
    const { rows } = await this.#deps.sql.query<Row>(
      `UPDATE invitations SET revoked_at = now() WHERE id = $1 AND used_at IS NULL AND revoked_at IS NULL AND expires_at > now() RETURNING ${COLUMNS}`,
      [id],
    );
    if (rows[0]) return toInvitation(rows[0]);
    const found = await this.find(id);
    if (found) throw new InvitationError(`this invitation is ${found.status}, not pending`, 'closed');
    return undefined;
  }

  /** What a link's token leads to; reads only (opening a link uses nothing: mail scanners open links). */
  async open(token: unknown): Promise<LinkState> {
    const hash = linkTokenHash(token);
    if (!hash) return { ok: false, reason: 'forged' };
    const { rows } = await this.#deps.sql.query<Row>(`SELECT ${COLUMNS} FROM invitations WHERE token_hash = $1`, [hash]);
    if (!rows[0]) return { ok: false, reason: 'unknown' };
    const invitation = toInvitation(rows[0]);
    return invitation.status === 'pending' ? { ok: true, invitation } : { ok: false, reason: invitation.status };
  }

  /**
   * Uses the invitation and creates its account, with what `enrol` stores (its factors), in one
   * transaction: either the link is used and the account exists with them, or nothing changed.
   * Exactly one of two racing enrolments gets the link. Undefined when the link is no longer open.
   */
  async complete<T>(invitationId: string, account: { passwordHash?: string }, enrol: (tx: Queryable, account: Account) => Promise<T>):
    Promise<{ account: Account; invitation: Invitation; enrolled: T } | undefined> {
    return this.#deps.sql.transaction(async (tx) => {
      const { rows } = await tx.query<Row>(
        `UPDATE invitations SET used_at = now() WHERE id = $1 AND used_at IS NULL AND revoked_at IS NULL AND expires_at > now() RETURNING ${COLUMNS}`,
        [invitationId],
      );
      if (!rows[0]) return undefined;
      const invitation = toInvitation(rows[0]);
      const created = await new AccountStore(tx).create({
        id: invitation.accountId, email: invitation.email, displayName: invitation.displayName, roles: invitation.roles,
        // The emailed link was opened and used: the person reads that mailbox.
        emailVerified: true,
        ...(account.passwordHash ? { passwordHash: account.passwordHash } : {}),
      });
      return { account: created, invitation, enrolled: await enrol(tx, created) };
    });
  }
}
