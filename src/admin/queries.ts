/**
 * The admin views' reads in SQL: sessions with their latest risk assessment and grant bindings,
 * accounts, clients, owed step-ups, the audit trail, risk events and logout deliveries. Every list
 * is keyset-paginated (`after` is the sort key of the last row shown; see paging.ts) and fetches
 * `limit + 1` rows so the caller knows whether there is a next page.
 */
import type { StoredAuditEntry } from '../audit/index.ts';
import type { Account } from '../identity/index.ts';
import type { Queryable } from '../store/index.ts';
import type { LogoutDelivery } from '../sessions/index.ts';
import type { RiskLevel } from './types.ts';
import type { ActivityKind } from './activity.ts';
import { DECISION_HOUR } from '../verification/index.ts';

type Signal = { name: string; contribution: number; reason: string };
type Place = { country?: string; region?: string; city?: string; lat?: number; lon?: number; accuracyKm?: number };
type Json<T> = T | string;
const parse = <T>(v: Json<T>): T => (typeof v === 'string' ? JSON.parse(v) as T : v);

/** A timestamptz as a sort key, in whole microseconds (a JS Date would lose them). */
const MICROS = (column: string) => `(extract(epoch FROM ${column}) * 1000000)::bigint::text`;
const FROM_MICROS = (param: string) => `('epoch'::timestamptz + ${param}::bigint * interval '1 microsecond')`;

export interface SessionRow {
  sessionUid: string;
  accountId: string;
  email: string;
  userAgent: string;
  ip: string;
  createdAt: Date;
  lastSeenAt: Date;
  seenKey: string;
  deviceId: string | null;
  lastRefreshAt: Date | null;
  bindingClients: string[];
  risk: { at: Date; score: number; level: RiskLevel; decision: { action: string }; signals: Signal[]; place: Place | null } | null;
}

export interface SessionQuery {
  accountId?: string;
  uid?: string;
  riskLevel?: RiskLevel;
  deviceId?: string;
  country?: string;
  since?: Date;
  /** Only sessions at or after this key [micros, uid] (newest first: seen no earlier than it). */
  through?: string[];
}

/** Whether a session query filters on something no index of session_activity serves (the latest assessment's country, the grants' device). */
export const needsScanLimit = (q: SessionQuery) => q.country !== undefined || q.deviceId !== undefined;

export interface RiskRow {
  id: string;
  at: Date;
  type: 'login' | 'refresh';
  accountId: string;
  sessionUid: string | null;
  clientId: string;
  ip: string;
  place: Place | null;
  deviceId: string | null;
  score: number;
  level: RiskLevel;
  decision: { action: string };
  signals: Signal[];
}

export interface RiskQuery {
  accountId?: string;
  sessionUid?: string;
  clientId?: string;
  level?: RiskLevel;
  decision?: string;
  from?: Date;
  to?: Date;
}

/** An account as the admin queries list it: the account store's own shape. */
export type AccountRow = Account;

export type AuditRow = StoredAuditEntry;

export interface AuditQuery {
  from?: Date;
  to?: Date;
  actor?: string;
  subject?: string;
  action?: string;
  excludeActions?: string[];
  /** Only entries of this activity kind (what the overview counts). */
  kind?: ActivityKind;
}

/** Builds a WHERE clause from optional conditions, numbering the parameters. */
class Conditions {
  readonly params: unknown[] = [];
  readonly #parts: string[] = [];

  p(value: unknown): string {
    this.params.push(value);
    return `$${this.params.length}`;
  }

  add(value: unknown, sql: (param: string) => string): void {
    if (value !== undefined) this.#parts.push(sql(this.p(value)));
  }

  /** A condition on several parameters (numbered with `p`). */
  raw(sql: string): void {
    this.#parts.push(sql);
  }

  where(): string {
    return this.#parts.length ? `WHERE ${this.#parts.join(' AND ')}` : '';
  }
}

/** The conditions of a session query on session_activity's own columns (alias `a`): served by its indexes. */
function sessionRowConditions(c: Conditions, q: SessionQuery, after: string[] | undefined): void {
  c.add(q.accountId, (p) => `a.account_id = ${p}`);
  c.add(q.uid, (p) => `a.session_uid = ${p}`);
  // The level kept on the row is the latest assessment's (migration 032): filtered before any assessment is read.
  c.add(q.riskLevel, (p) => `a.risk_level = ${p}`);
  c.add(q.since?.toISOString(), (p) => `a.last_seen_at >= ${p}::timestamptz`);
  if (after) c.raw(`(a.last_seen_at, a.session_uid) < (${FROM_MICROS(c.p(after[0]))}, ${c.p(after[1])})`);
  if (q.through) c.raw(`(a.last_seen_at, a.session_uid) >= (${FROM_MICROS(c.p(q.through[0]))}, ${c.p(q.through[1])})`);
}

export class AdminQueries {
  readonly #db: Queryable;

  constructor(db: Queryable) {
    this.#db = db;
  }

  /** Sessions by last activity, newest first, after the key [micros, uid]. */
  async sessions(q: SessionQuery, after: string[] | undefined, limit: number): Promise<SessionRow[]> {
    const c = new Conditions();
    sessionRowConditions(c, q, after);
    c.add(q.deviceId, (p) => `coalesce(g.device_id, r.device_id) = ${p}`);
    c.add(q.country, (p) => `r.place->>'country' = ${p}`);
    const { rows } = await this.#db.query<{
      session_uid: string; account_id: string; email: string; user_agent: string; ip: string; created_at: Date; last_seen_at: Date; seen_key: string;
      device_id: string | null; last_refresh_at: Date | null; clients: string[] | null;
      risk: Json<{ at: string; score: number; level: RiskLevel; decision: Json<{ action: string }>; signals: Json<Signal[]>; place: Json<Place> | null }> | null;
    }>(
      `SELECT a.session_uid, a.account_id, acc.email, a.user_agent, a.ip, a.created_at, a.last_seen_at, ${MICROS('a.last_seen_at')} AS seen_key,
         g.device_id, g.last_refresh_at, g.clients,
         CASE WHEN r.id IS NULL THEN NULL ELSE json_build_object('at', r.at, 'score', r.score, 'level', r.level, 'decision', r.decision, 'signals', r.signals, 'place', r.place) END AS risk
       FROM session_activity a
       JOIN accounts acc ON acc.id = a.account_id
       LEFT JOIN LATERAL (SELECT id, at, score, level, decision, signals, place, device_id FROM risk_assessments ra
                          WHERE ra.session_uid = a.session_uid ORDER BY ra.at DESC, ra.id DESC LIMIT 1) r ON true
       LEFT JOIN LATERAL (SELECT max(b.device_id) AS device_id, max(b.last_refresh_at) AS last_refresh_at, array_agg(DISTINCT b.client_id) AS clients
                          FROM risk_grant_bindings b WHERE b.session_uid = a.session_uid) g ON true
       ${c.where()}
       ORDER BY a.last_seen_at DESC, a.session_uid DESC
       LIMIT ${c.p(limit)}`,
      c.params,
    );
    return rows.map((r) => {
      const risk = r.risk === null ? null : parse(r.risk);
      return {
        sessionUid: r.session_uid, accountId: r.account_id, email: r.email, userAgent: r.user_agent, ip: r.ip,
        createdAt: new Date(r.created_at), lastSeenAt: new Date(r.last_seen_at), seenKey: r.seen_key,
        deviceId: r.device_id ?? null, lastRefreshAt: r.last_refresh_at ? new Date(r.last_refresh_at) : null,
        bindingClients: (r.clients ?? []).filter((x) => x !== null),
        risk: risk && {
          at: new Date(risk.at), score: risk.score, level: risk.level, decision: parse(risk.decision),
          signals: parse(risk.signals), place: risk.place === null ? null : parse(risk.place),
        },
      };
    });
  }

  /**
   * The key of the `count`-th session after `after` (newest first) that the query's conditions on
   * session_activity itself select, or undefined when fewer remain: the filters `needsScanLimit`
   * names are then looked for among those sessions only, so a statement never walks every session
   * for a rare country or device.
   */
  async sessionScanEdge(q: SessionQuery, after: string[] | undefined, count: number): Promise<string[] | undefined> {
    const c = new Conditions();
    sessionRowConditions(c, q, after);
    const { rows } = await this.#db.query<{ seen_key: string; session_uid: string }>(
      `SELECT ${MICROS('a.last_seen_at')} AS seen_key, a.session_uid FROM session_activity a ${c.where()}
       ORDER BY a.last_seen_at DESC, a.session_uid DESC OFFSET ${c.p(count - 1)} LIMIT 1`,
      c.params,
    );
    return rows[0] && [rows[0].seen_key, rows[0].session_uid];
  }

  /** Forgets the activity of sessions found to have ended (they drop out of the list). */
  async forgetSessions(uids: readonly string[]): Promise<void> {
    if (uids.length) await this.#db.query('DELETE FROM session_activity WHERE session_uid = ANY($1::text[])', [uids]);
  }

  /** Sessions in the activity table, from the counts kept as rows come and go (migration 032): no row is read. */
  async activeSessionCount(): Promise<number> {
    const { rows } = await this.#db.query<{ n: string | null }>('SELECT sum(sessions) AS n FROM session_counts');
    return Number(rows[0]?.n ?? 0);
  }

  /**
   * Sessions in the activity table by the risk level of their latest assessment ('none' when never
   * assessed), from the counts kept as it changes (migration 032).
   */
  async sessionRiskCounts(): Promise<Record<RiskLevel | 'none', number>> {
    const { rows } = await this.#db.query<{ risk_level: RiskLevel | 'none'; n: string }>(
      'SELECT risk_level, sum(sessions) AS n FROM session_counts GROUP BY risk_level',
    );
    const counts = { none: 0, low: 0, medium: 0, high: 0 };
    for (const r of rows) if (r.risk_level in counts) counts[r.risk_level] += Number(r.n);
    return counts;
  }

  /** Risk assessments, newest first, after the key [id]. */
  async riskEvents(q: RiskQuery, after: string[] | undefined, limit: number): Promise<RiskRow[]> {
    const c = new Conditions();
    c.add(q.accountId, (p) => `account_id = ${p}`);
    c.add(q.sessionUid, (p) => `session_uid = ${p}`);
    c.add(q.clientId, (p) => `client_id = ${p}`);
    c.add(q.level, (p) => `level = ${p}`);
    c.add(q.decision, (p) => `decision->>'action' = ${p}`);
    c.add(q.from?.toISOString(), (p) => `at >= ${p}::timestamptz`);
    c.add(q.to?.toISOString(), (p) => `at < ${p}::timestamptz`);
    c.add(after?.[0], (p) => `id < ${p}::bigint`);
    const { rows } = await this.#db.query<{
      id: string; at: Date; type: 'login' | 'refresh'; account_id: string; session_uid: string | null; client_id: string; ip: string;
      place: Json<Place> | null; device_id: string | null; score: number; level: RiskLevel; decision: Json<{ action: string }>; signals: Json<RiskRow['signals']>;
    }>(
      `SELECT id::text AS id, at, type, account_id, session_uid, client_id, ip, place, device_id, score, level, decision, signals
       FROM risk_assessments ${c.where()} ORDER BY risk_assessments.id DESC LIMIT ${c.p(limit)}`,
      c.params,
    );
    return rows.map((r) => ({
      id: r.id, at: new Date(r.at), type: r.type, accountId: r.account_id, sessionUid: r.session_uid, clientId: r.client_id, ip: r.ip,
      place: r.place === null ? null : parse(r.place), deviceId: r.device_id, score: r.score, level: r.level, decision: parse(r.decision), signals: parse(r.signals),
    }));
  }

  /**
   * Decisions since `since`: the hours counted as assessments were stored (migration 032), and the
   * assessments themselves for the partial hour `since` falls in (at most an hour of rows).
   */
  async decisionCounts(since: Date): Promise<Record<string, number>> {
    const nextHour = `${DECISION_HOUR('$1::timestamptz')} + interval '1 hour'`;
    const { rows } = await this.#db.query<{ action: string; n: string }>(
      `SELECT action, sum(n) AS n FROM (
         SELECT action, decisions AS n FROM risk_decision_counts WHERE hour >= ${nextHour}
         UNION ALL
         SELECT decision->>'action', count(*) FROM risk_assessments WHERE at >= $1::timestamptz AND at < ${nextHour} GROUP BY 1) c
       GROUP BY action`, [since.toISOString()],
    );
    return Object.fromEntries(rows.map((r) => [r.action, Number(r.n)]));
  }

  /** Revocations that ended something (a session, a grant or tokens): revoking what was already gone is not counted. */
  async revocationCount(since: Date): Promise<number> {
    const { rows } = await this.#db.query<{ n: string }>(
      `SELECT count(*) AS n FROM audit_log WHERE activity = 'revocation' AND at >= $1`, [since.toISOString()],
    );
    return Number(rows[0]?.n ?? 0);
  }

  /** Activity entries in [from, to) by bucket (`step` long, from `from`) and kind; empty buckets are absent. */
  async activityCounts(from: Date, to: Date, stepMs: number): Promise<{ bucket: Date; kind: ActivityKind; n: number }[]> {
    // `activity IS NOT NULL` is the predicate of the index audit_log_activity: an index-only scan of these entries alone.
    const { rows } = await this.#db.query<{ bucket: Date; kind: ActivityKind; n: number }>(
      `SELECT date_bin($3::bigint * interval '1 millisecond', at, $1::timestamptz) AS bucket, activity AS kind, count(*)::int AS n
         FROM audit_log
        WHERE activity IS NOT NULL AND at >= $1::timestamptz AND at < $2::timestamptz
        GROUP BY 1, 2`,
      [from.toISOString(), to.toISOString(), stepMs],
    );
    return rows.map((r) => ({ bucket: new Date(r.bucket), kind: r.kind, n: r.n }));
  }

  /** Accounts by email (case-insensitive), after the key [lower(email)]; `query` matches email or name. */
  async accounts(query: string | undefined, after: string[] | undefined, limit: number): Promise<AccountRow[]> {
    const c = new Conditions();
    c.add(query === undefined ? undefined : `%${query.replace(/[\\%_]/g, (m) => `\\${m}`)}%`, (p) => `(email ILIKE ${p} OR display_name ILIKE ${p})`);
    c.add(after?.[0], (p) => `lower(email) > ${p}`);
    const { rows } = await this.#db.query<{ id: string; email: string; display_name: string; roles: string[]; disabled: boolean; email_verified: boolean; created_at: Date }>(
      `SELECT id, email, display_name, roles, disabled, email_verified, created_at FROM accounts ${c.where()} ORDER BY lower(email) LIMIT ${c.p(limit)}`,
      c.params,
    );
    return rows.map((r) => ({ id: r.id, email: r.email, displayName: r.display_name, roles: r.roles, disabled: r.disabled, emailVerified: r.email_verified, createdAt: new Date(r.created_at) }));
  }

  /** For a page of accounts, in one query: the last successful sign-in, whether an authenticator app is set up, how many passkeys. */
  async accountActivity(ids: readonly string[]): Promise<Map<string, { lastSignInAt: Date | null; totp: boolean; passkeys: number }>> {
    const found = new Map<string, { lastSignInAt: Date | null; totp: boolean; passkeys: number }>();
    if (!ids.length) return found;
    const { rows } = await this.#db.query<{ id: string; last_sign_in_at: Date | null; totp: boolean; passkeys: number }>(
      `SELECT a.id,
              (SELECT l.at FROM audit_log l WHERE l.actor = a.id AND l.action = 'login' AND l.outcome = 'success' ORDER BY l.seq DESC LIMIT 1) AS last_sign_in_at,
              EXISTS (SELECT 1 FROM totp_factors t WHERE t.account_id = a.id AND t.confirmed_at IS NOT NULL) AS totp,
              (SELECT count(*)::int FROM webauthn_credentials w WHERE w.account_id = a.id) AS passkeys
         FROM accounts a WHERE a.id = ANY($1::text[])`,
      [[...ids]],
    );
    for (const r of rows) found.set(r.id, { lastSignInAt: r.last_sign_in_at ? new Date(r.last_sign_in_at) : null, totp: r.totp, passkeys: r.passkeys });
    return found;
  }

  /** Registered clients' metadata by client id, after the key [client_id]. Secrets are left out. */
  async clients(after: string[] | undefined, limit: number): Promise<{ id: string; metadata: Record<string, unknown> }[]> {
    const c = new Conditions();
    c.add('Client', (p) => `model = ${p}`);
    c.add(after?.[0], (p) => `id > ${p}`);
    const { rows } = await this.#db.query<{ id: string; metadata: Json<Record<string, unknown>> }>(
      `SELECT id, payload - 'client_secret' AS metadata FROM oidc_payloads ${c.where()} ORDER BY id LIMIT ${c.p(limit)}`,
      c.params,
    );
    return rows.map((r) => ({ id: r.id, metadata: parse(r.metadata) }));
  }

  /** Names for ids, in one query: accounts by email, clients by name (their id when they have none). Unknown ids are left out. */
  async names(ids: readonly string[]): Promise<{ accounts: Map<string, string>; clients: Map<string, string> }> {
    const accounts = new Map<string, string>();
    const clients = new Map<string, string>();
    const wanted = [...new Set(ids)];
    if (!wanted.length) return { accounts, clients };
    const { rows } = await this.#db.query<{ kind: 'account' | 'client'; id: string; name: string }>(
      `SELECT 'account' AS kind, id, email AS name FROM accounts WHERE id = ANY($1::text[])
       UNION ALL
       SELECT 'client' AS kind, id, coalesce(payload->>'client_name', id) AS name FROM oidc_payloads WHERE model = 'Client' AND id = ANY($1::text[])`,
      [wanted],
    );
    for (const r of rows) (r.kind === 'account' ? accounts : clients).set(r.id, r.name);
    return { accounts, clients };
  }

  /** The person's step-up (session null) and each session's, newest first. */
  async stepUpsOwed(accountId: string): Promise<{ sessionUid: string | null; acr: string; reason: string; since: Date; metAt: Date | null }[]> {
    const { rows } = await this.#db.query<{ session_uid: string | null; required_acr: string; reason: string; created_at: Date | string; met_at: Date | string | null }>(
      `SELECT NULL AS session_uid, required_acr, reason, created_at, met_at FROM account_step_up_requirements WHERE account_id = $1
       UNION ALL SELECT session_uid, required_acr, reason, created_at, NULL FROM step_up_requirements WHERE account_id = $1
       ORDER BY created_at DESC`, [accountId],
    );
    return rows.map((r) => ({
      sessionUid: r.session_uid, acr: r.required_acr, reason: r.reason, since: new Date(r.created_at), metAt: r.met_at === null ? null : new Date(r.met_at),
    }));
  }

  /** The account's failed and refused password attempts since `since`, by address, most first. */
  async signInFailures(accountId: string, since: Date, limit: number): Promise<{ ip: string; failures: number; refused: number; lastAt: Date }[]> {
    const { rows } = await this.#db.query<{ ip: string; failures: number; refused: number; last_at: Date }>(
      `SELECT coalesce(ip, '') AS ip, count(*) FILTER (WHERE outcome = 'failure')::int AS failures,
              count(*) FILTER (WHERE outcome = 'denied')::int AS refused, max(at) AS last_at
         FROM audit_log
        WHERE actor = $1 AND action = 'login' AND at >= $2
          AND (outcome = 'failure' OR (outcome = 'denied' AND details->>'reason' = 'rate_limited'))
        GROUP BY ip ORDER BY failures DESC, last_at DESC LIMIT $3`,
      [accountId, since.toISOString(), limit],
    );
    return rows.map((r) => ({ ip: r.ip, failures: r.failures, refused: r.refused, lastAt: new Date(r.last_at) }));
  }

  /** Accounts with at least `atLeast` failed passwords since `since`, most first. */
  async accountsUnderAttack(since: Date, atLeast: number, limit: number): Promise<{ accountId: string; email: string; failures: number; addresses: number }[]> {
    const { rows } = await this.#db.query<{ account_id: string; email: string; failures: number; addresses: number }>(
      `SELECT a.id AS account_id, a.email, f.failures, f.addresses
         FROM (SELECT actor, count(*)::int AS failures, count(DISTINCT ip)::int AS addresses
                 FROM audit_log WHERE action = 'login' AND outcome = 'failure' AND at >= $1
                GROUP BY actor HAVING count(*) >= $2) f
         JOIN accounts a ON a.id = f.actor
        ORDER BY f.failures DESC LIMIT $3`,
      [since.toISOString(), atLeast, limit],
    );
    return rows.map((r) => ({ accountId: r.account_id, email: r.email, failures: r.failures, addresses: r.addresses }));
  }

  /** Audit entries, newest first, after the key [seq]; `action` ending in `.` is a prefix. */
  async audit(q: AuditQuery, after: string[] | undefined, limit: number): Promise<AuditRow[]> {
    const c = new Conditions();
    c.add(q.from?.toISOString(), (p) => `at >= ${p}::timestamptz`);
    c.add(q.to?.toISOString(), (p) => `at < ${p}::timestamptz`);
    c.add(q.actor, (p) => `actor = ${p}`);
    c.add(q.subject, (p) => `subject = ${p}`);
    if (q.action?.endsWith('.')) c.add(q.action, (p) => `left(action, length(${p})) = ${p}`);
    else c.add(q.action, (p) => `action = ${p}`);
    if (q.excludeActions?.length) c.add(q.excludeActions, (p) => `NOT (action = ANY(${p}::text[]))`);
    c.add(q.kind, (p) => `activity = ${p}`);
    c.add(after?.[0], (p) => `seq < ${p}::bigint`);
    const { rows } = await this.#db.query<{ seq: string; at: Date; actor: string; action: string; subject: string | null; ip: string | null; outcome: string; details: Json<Record<string, unknown>> }>(
      `SELECT seq::text AS seq, at, actor, action, subject, ip, outcome, details FROM audit_log ${c.where()} ORDER BY audit_log.seq DESC LIMIT ${c.p(limit)}`,
      c.params,
    );
    return rows.map((r) => ({ ...r, at: new Date(r.at), details: parse(r.details) }));
  }

  /** Back-channel logout deliveries, newest first, after the key [id]. */
  async logouts(status: LogoutDelivery['status'] | undefined, after: string[] | undefined, limit: number): Promise<LogoutDelivery[]> {
    const c = new Conditions();
    c.add(status, (p) => `status = ${p}`);
    c.add(after?.[0], (p) => `id < ${p}::bigint`);
    const { rows } = await this.#db.query<{
      id: string; client_id: string; account_id: string; session_uid: string; sid: string; status: LogoutDelivery['status']; attempts: number;
      next_attempt_at: Date; last_error: string | null; created_at: Date; delivered_at: Date | null;
    }>(`SELECT id::text AS id, client_id, account_id, session_uid, sid, status, attempts, next_attempt_at, last_error, created_at, delivered_at
        FROM backchannel_logouts ${c.where()} ORDER BY backchannel_logouts.id DESC LIMIT ${c.p(limit)}`, c.params);
    return rows.map((r) => ({
      id: r.id, clientId: r.client_id, accountId: r.account_id, sessionUid: r.session_uid, sid: r.sid, status: r.status, attempts: r.attempts,
      nextAttemptAt: new Date(r.next_attempt_at), lastError: r.last_error, createdAt: new Date(r.created_at), deliveredAt: r.delivered_at ? new Date(r.delivered_at) : null,
    }));
  }
}
