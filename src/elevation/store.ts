/**
 * Eligibility and elevations in SQL: the truth every instance reads. Each change is one
 * conditional statement, so two instances (or two approvers) racing change a row once.
 */
import { randomUUID } from 'node:crypto';
import type { Queryable } from '../store/index.ts';

export type ElevationStatus = 'pending' | 'active' | 'denied' | 'revoked' | 'expired';
export const ELEVATION_STATUSES: readonly ElevationStatus[] = ['pending', 'active', 'denied', 'revoked', 'expired'];

export interface Approval {
  approverId: string;
  acr: string;
  at: Date;
}

export interface Elevation {
  id: string;
  accountId: string;
  /** The person's email (for lists). */
  email: string;
  role: string;
  reason: string;
  durationSeconds: number;
  status: ElevationStatus;
  requestedBy: string;
  requestedAt: Date;
  approvalsNeeded: number;
  approvals: Approval[];
  activatedAt?: Date;
  expiresAt?: Date;
  endedAt?: Date;
  endedBy?: string;
  endReason?: string;
}

/** An elevation in force: what the token path needs. */
export interface ActiveElevation {
  role: string;
  expiresAt: number;
}

export interface Eligibility {
  accountId: string;
  email: string;
  role: string;
  grantedBy: string;
  grantedAt: Date;
}

interface ElevationRow {
  id: string; account_id: string; email: string | null; role: string; reason: string; duration_seconds: number; status: ElevationStatus;
  requested_by: string; requested_at: Date; approvals_needed: number; activated_at: Date | null; expires_at: Date | null;
  ended_at: Date | null; ended_by: string | null; end_reason: string | null;
  approvals: { approver_id: string; acr: string; at: string }[] | null;
}

const SELECT = `SELECT e.*, a.email,
  (SELECT json_agg(json_build_object('approver_id', p.approver_id, 'acr', p.acr, 'at', p.approved_at) ORDER BY p.approved_at)
   FROM elevation_approvals p WHERE p.elevation_id = e.id) AS approvals
  FROM elevations e JOIN accounts a ON a.id = e.account_id`;

const date = (v: Date | string | null) => (v === null ? undefined : new Date(v));

function toElevation(r: ElevationRow): Elevation {
  return {
    id: r.id, accountId: r.account_id, email: r.email ?? '', role: r.role, reason: r.reason, durationSeconds: r.duration_seconds, status: r.status,
    requestedBy: r.requested_by, requestedAt: new Date(r.requested_at), approvalsNeeded: r.approvals_needed,
    approvals: (r.approvals ?? []).map((p) => ({ approverId: p.approver_id, acr: p.acr, at: new Date(p.at) })),
    ...(r.activated_at ? { activatedAt: date(r.activated_at) } : {}),
    ...(r.expires_at ? { expiresAt: date(r.expires_at) } : {}),
    ...(r.ended_at ? { endedAt: date(r.ended_at) } : {}),
    ...(r.ended_by ? { endedBy: r.ended_by } : {}),
    ...(r.end_reason ? { endReason: r.end_reason } : {}),
  };
}

/** A request for a role the person already asked for or holds. */
export class ElevationOpen extends Error {
  override name = 'ElevationOpen';
}

export interface NewElevation {
  accountId: string;
  role: string;
  reason: string;
  durationSeconds: number;
  requestedBy: string;
  approvalsNeeded: number;
}

export interface ElevationFilter {
  status?: ElevationStatus;
  accountId?: string;
  limit?: number;
}

export class ElevationStore {
  readonly #db: Queryable;

  constructor(db: Queryable) {
    this.#db = db;
  }

  async eligibleRoles(accountId: string): Promise<string[]> {
    const { rows } = await this.#db.query<{ role: string }>('SELECT role FROM role_eligibility WHERE account_id = $1 ORDER BY role', [accountId]);
    return rows.map((r) => r.role);
  }

  async eligibility(accountId?: string): Promise<Eligibility[]> {
    const { rows } = await this.#db.query<{ account_id: string; email: string; role: string; granted_by: string; granted_at: Date }>(
      `SELECT r.*, a.email FROM role_eligibility r JOIN accounts a ON a.id = r.account_id
       WHERE ($1::text IS NULL OR r.account_id = $1) ORDER BY lower(a.email), r.role LIMIT 1000`, [accountId ?? null],
    );
    return rows.map((r) => ({ accountId: r.account_id, email: r.email, role: r.role, grantedBy: r.granted_by, grantedAt: new Date(r.granted_at) }));
  }

  /** True when the person was not eligible before. */
  async grantEligibility(accountId: string, role: string, by: string): Promise<boolean> {
    const { rowCount } = await this.#db.query(
      'INSERT INTO role_eligibility (account_id, role, granted_by) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING', [accountId, role, by],
    );
    return rowCount > 0;
  }

  /** True when the person was eligible. */
  async withdrawEligibility(accountId: string, role: string): Promise<boolean> {
    const { rowCount } = await this.#db.query('DELETE FROM role_eligibility WHERE account_id = $1 AND role = $2', [accountId, role]);
    return rowCount > 0;
  }

  /** A request; active at once when nobody needs to approve it. */
  async create(e: NewElevation): Promise<Elevation> {
    const id = randomUUID();
    const activeNow = e.approvalsNeeded === 0;
    try {
      await this.#db.query(
        `INSERT INTO elevations (id, account_id, role, reason, duration_seconds, status, requested_by, approvals_needed, activated_at, expires_at)
         VALUES ($1, $2, $3, $4, $5::integer, $6, $7, $8::integer,
           CASE WHEN $9::boolean THEN now() END, CASE WHEN $9::boolean THEN now() + make_interval(secs => $5::integer) END)`,
        [id, e.accountId, e.role, e.reason, e.durationSeconds, activeNow ? 'active' : 'pending', e.requestedBy, e.approvalsNeeded, activeNow],
      );
    } catch (err) {
      if ((err as { code?: string }).code === '23505') throw new ElevationOpen(`there is already an open request or elevation for ${e.role}`);
      throw err;
    }
    return (await this.find(id))!;
  }

  async find(id: string): Promise<Elevation | undefined> {
    const { rows } = await this.#db.query<ElevationRow>(`${SELECT} WHERE e.id = $1`, [id]);
    return rows[0] && toElevation(rows[0]);
  }

  /** Newest first. */
  async list(filter: ElevationFilter = {}): Promise<Elevation[]> {
    const { rows } = await this.#db.query<ElevationRow>(
      `${SELECT} WHERE ($1::text IS NULL OR e.status = $1) AND ($2::text IS NULL OR e.account_id = $2)
       ORDER BY e.requested_at DESC LIMIT $3`,
      [filter.status ?? null, filter.accountId ?? null, Math.min(filter.limit ?? 100, 500)],
    );
    return rows.map(toElevation);
  }

  /** The elevations in force now (the clock of the database decides). */
  async active(accountId: string): Promise<ActiveElevation[]> {
    const { rows } = await this.#db.query<{ role: string; expires_at: Date }>(
      `SELECT role, expires_at FROM elevations WHERE account_id = $1 AND status = 'active' AND expires_at > now()`, [accountId],
    );
    return rows.map((r) => ({ role: r.role, expiresAt: new Date(r.expires_at).getTime() }));
  }

  /**
   * Records an approval of a pending request; activates it when it has enough. Undefined when the
   * request is not pending (any more).
   */
  async approve(id: string, approverId: string, acr: string): Promise<Elevation | undefined> {
    const { rowCount } = await this.#db.query(
      `INSERT INTO elevation_approvals (elevation_id, approver_id, acr)
       SELECT id, $2, $3 FROM elevations WHERE id = $1 AND status = 'pending' AND account_id <> $2
       ON CONFLICT DO NOTHING`, [id, approverId, acr],
    );
    await this.#db.query(
      `UPDATE elevations SET status = 'active', activated_at = now(), expires_at = now() + make_interval(secs => duration_seconds)
       WHERE id = $1 AND status = 'pending' AND (SELECT count(*) FROM elevation_approvals WHERE elevation_id = $1) >= approvals_needed`, [id],
    );
    const found = await this.find(id);
    return rowCount > 0 || found?.approvals.some((a) => a.approverId === approverId) ? found : undefined;
  }

  /** Ends a request or elevation in one of `from`; undefined when it was in none of them. */
  async end(id: string, status: 'denied' | 'revoked', from: ElevationStatus[], by: string, reason: string): Promise<Elevation | undefined> {
    const { rowCount } = await this.#db.query(
      `UPDATE elevations SET status = $2, ended_at = now(), ended_by = $3, end_reason = $4
       WHERE id = $1 AND status = ANY ($5::text[]) AND (status <> 'active' OR expires_at > now())`, [id, status, by, reason, from],
    );
    return rowCount ? this.find(id) : undefined;
  }

  /** Marks every elevation past its end as expired, once across instances; returns those it marked. */
  async expireDue(): Promise<Elevation[]> {
    const { rows } = await this.#db.query<{ id: string }>(
      `UPDATE elevations SET status = 'expired', ended_at = expires_at, ended_by = 'system', end_reason = 'expired'
       WHERE status = 'active' AND expires_at <= now() RETURNING id`,
    );
    const ended = await Promise.all(rows.map((r) => this.find(r.id)));
    return ended.filter((e): e is Elevation => e !== undefined);
  }

  /** When the next elevation in force ends (epoch ms), if any. */
  async nextExpiry(): Promise<number | undefined> {
    const { rows } = await this.#db.query<{ at: Date | null }>(`SELECT min(expires_at) AS at FROM elevations WHERE status = 'active'`);
    return rows[0]?.at ? new Date(rows[0].at).getTime() : undefined;
  }
}
