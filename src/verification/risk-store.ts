/**
 * The risk engine's memory in SQL (migration 005): per-account profiles, failures per address,
 * grant bindings and stored assessments. Shaped for the hot path: everything a refresh needs is
 * read in one round trip (`load`), and everything it changes is written in one (`save`).
 */
import { ADVISORY_LOCKS, deleteOlderInBatches, inPurgeTurn, jsonRowsParameter, storableJson, type Sql } from '../store/index.ts';
import {
  DEFAULT_LIMITS, emptyStats, statsFromJson, statsToJson,
  type Assessment, type FeatureStatsJson, type RiskLevel, type GeoLocation, type HistoryEvent, type HistoryLimits, type PopulationStats, type RiskHistory,
} from '../risk/index.ts';
import type { ExternalCompliance, PostureFields } from '../devices/index.ts';
import { stepUpQuery, stepUpsFromRows, type StepUpRequirement, type StepUpRow } from '../sessions/index.ts';

/** An account's history as stored (`risk_profiles.history`). */
interface ProfileJson {
  events?: HistoryEvent[];
  stats?: FeatureStatsJson;
  tz?: number;
}

export interface GrantBinding {
  deviceId?: string;
  userAgent: string;
  lastRefreshAt: number;
}

export interface BoundDevice {
  id: string;
  accountId: string;
  lastPosture?: PostureFields;
  lastReportAt?: number;
  externalCompliance?: ExternalCompliance;
}

export interface LoadedState {
  /** The step-ups the session (when one was asked about) and the account owe. */
  owed: StepUpRequirement[];
  /** The account's history, sharing `population`; `version` is undefined when it has no profile yet. */
  history: RiskHistory;
  version: number | undefined;
  /** The account's last assessed risk level (`low` when never stored). */
  riskLevel: RiskLevel;
  binding?: GrantBinding;
  device?: BoundDevice;
}

export interface StoredAssessment {
  time: number;
  type: 'login' | 'refresh';
  accountId: string;
  sessionUid?: string;
  clientId: string;
  ip: string;
  ipIsUser: boolean;
  place?: GeoLocation;
  deviceId?: string;
  assessment: Assessment;
}

/**
 * An assessment as the JSON object of its row (what the write-behind keeps until its batch is
 * written): the keys are the columns that `assessmentInsert` reads.
 */
export function assessmentRow(a: StoredAssessment): string {
  const { score, level, decision, rules, signals } = a.assessment;
  return storableJson({
    at: new Date(a.time).toISOString(), type: a.type, account_id: a.accountId, session_uid: a.sessionUid ?? null, client_id: a.clientId,
    ip: a.ip, ip_is_user: a.ipIsUser, place: a.place ?? null, device_id: a.deviceId ?? null, score, level, decision, rules, signals,
  });
}

/** The hour of `risk_decision_counts` a time falls in: whole hours from the epoch, whatever the connection's time zone. */
export const DECISION_HOUR = (time: string) => `date_bin('1 hour', ${time}, 'epoch'::timestamptz)`;

const ASSESSMENT_COLUMNS = 'at, type, account_id, session_uid, client_id, ip, ip_is_user, place, device_id, score, level, decision, rules, signals';

/**
 * Inserts the rows of the JSON array `param` (`jsonRowsParameter` of `assessmentRow`s), puts each
 * session's latest level on its `session_activity` row where it changed, and counts the decisions
 * by hour (what the admin dashboard reads, migration 032): the common-table expressions of one
 * statement, by name.
 */
function assessmentInsert(param: string): [name: string, sql: string][] {
  return [
    ['stored_assessments', `INSERT INTO risk_assessments (${ASSESSMENT_COLUMNS}) SELECT ${ASSESSMENT_COLUMNS}
      FROM json_to_recordset(${param}::json) AS r(at timestamptz, type text, account_id text, session_uid text, client_id text, ip text,
        ip_is_user boolean, place jsonb, device_id text, score smallint, level text, decision jsonb, rules jsonb, signals jsonb)
      RETURNING id, at, session_uid, level, decision->>'action' AS action`],
    // Allowed refreshes are written behind, in batches: a refused one, stored at once, may be
    // newer than a batch written after it. A level is set only if nothing newer is stored.
    ['session_levels', `UPDATE session_activity a SET risk_level = s.level
      FROM (SELECT DISTINCT ON (session_uid) session_uid, level, at FROM stored_assessments WHERE session_uid IS NOT NULL ORDER BY session_uid, at DESC, id DESC) s
      WHERE a.session_uid = s.session_uid AND a.risk_level IS DISTINCT FROM s.level
        AND NOT EXISTS (SELECT 1 FROM risk_assessments r WHERE r.session_uid = s.session_uid AND r.at > s.at)`],
    // In key order: two statements counting the same hour lock its rows in the same order.
    ['decision_counts', `INSERT INTO risk_decision_counts AS c (hour, action, decisions)
      SELECT ${DECISION_HOUR('at')}, action, count(*) FROM stored_assessments GROUP BY 1, 2 ORDER BY 1, 2
      ON CONFLICT (hour, action) DO UPDATE SET decisions = c.decisions + EXCLUDED.decisions`],
  ];
}

const withStatement = (ctes: [name: string, sql: string][], select = '1') => `WITH ${ctes.map(([name, sql]) => `${name} AS (${sql})`).join(',\n')} SELECT ${select}`;

export interface SaveRequest {
  assessment?: StoredAssessment;
  /** The account's history after this event (written only if nobody wrote since `version`). */
  profile?: { accountId: string; history: RiskHistory; version: number | undefined };
  /**
   * The grant's binding: created with this device and agent (agent '' when the request was not the
   * person's); later refreshes move its time on and fill a device or agent it did not have yet.
   */
  binding?: { grantId: string; sessionUid?: string; accountId: string; clientId: string; deviceId?: string; userAgent: string; time: number };
}

export interface LoadRow {
  profile: { history: ProfileJson | string; failures: number[] | string; version: number; risk_level: RiskLevel | null } | null;
  ip_failures: number[] | string | null;
  binding: { device_id: string | null; user_agent: string; last_refresh_ms: number } | null;
  device: {
    id: string; account_id: string; last_posture: PostureFields | string | null; last_report_ms: number | null; external_compliance: ExternalCompliance | string | null;
  } | null;
  owed: StepUpRow[] | string | null;
}

const parse = <T>(v: T | string): T => (typeof v === 'string' ? JSON.parse(v) as T : v);

function historyFromJson(json: ProfileJson, failures: number[], ipFailures: number[], population: PopulationStats): RiskHistory {
  const events = json.events ?? [];
  let last: HistoryEvent | undefined;
  for (const e of events) if (!last || e.time >= last.time) last = e;
  const history: RiskHistory = {
    accountEvents: events,
    accountStats: json.stats ? statsFromJson(json.stats) : emptyStats(),
    populationStats: population,
    failuresByAccount: failures,
    failuresByIp: ipFailures,
  };
  if (last) history.lastGoodEvent = last;
  if (json.tz !== undefined) history.timezoneOffsetMinutes = json.tz;
  return history;
}

function historyToJson(history: RiskHistory): ProfileJson {
  const stats = statsToJson(history.accountStats);
  delete stats.accounts;
  const json: ProfileJson = { events: history.accountEvents, stats };
  if (history.timezoneOffsetMinutes !== undefined) json.tz = history.timezoneOffsetMinutes;
  return json;
}

/** Appends `time` to a JSON array of epoch ms, keeping the window and the newest `max` (SQL). */
const appendFailure = (column: string) => `(
  SELECT coalesce(jsonb_agg(t ORDER BY t), '[]'::jsonb) FROM (
    SELECT (e #>> '{}')::bigint AS t FROM jsonb_array_elements(${column} || jsonb_build_array($2::bigint)) AS e
    WHERE (e #>> '{}')::bigint > $3 ORDER BY 1 DESC LIMIT $4) kept)`;

/** SQL expressions (parameters or columns) naming what a risk read is about. */
export interface RiskStateKeys {
  accountId: string;
  ip: string;
  grantId: string;
  jkt: string;
  sessionUid: string;
}

/**
 * The select list of a risk read: one column per part of the state (see `loadedState`). Also read
 * alongside a refresh token's lookup, with the token row's own columns as keys.
 */
export function riskStateColumns(k: RiskStateKeys): string {
  return `(SELECT row_to_json(p) FROM (SELECT history, failures, version, risk_level FROM risk_profiles WHERE account_id = ${k.accountId}) p) AS profile,
    (SELECT failures FROM risk_ip_failures WHERE ip = ${k.ip}) AS ip_failures,
    (SELECT row_to_json(b) FROM (SELECT device_id, user_agent, (extract(epoch FROM last_refresh_at) * 1000)::float8 AS last_refresh_ms
       FROM risk_grant_bindings WHERE grant_id = ${k.grantId}) b) AS binding,
    (SELECT row_to_json(d) FROM (SELECT id, account_id, last_posture, (extract(epoch FROM last_report_at) * 1000)::float8 AS last_report_ms,
       external_compliance FROM devices WHERE jkt = ${k.jkt}) d) AS device,
    (SELECT json_agg(s) FROM (${stepUpQuery(k.sessionUid, k.accountId)}) s) AS owed`;
}

/** The state a row of `riskStateColumns` holds (an absent row: an account nothing is known of). */
export function loadedState(row: LoadRow | undefined, population: PopulationStats): LoadedState {
  const profile = row?.profile ?? null;
  const history = historyFromJson(
    profile ? parse(profile.history) : {},
    profile ? parse(profile.failures) : [],
    row?.ip_failures ? parse(row.ip_failures) : [],
    population,
  );
  const state: LoadedState = { history, version: profile ? profile.version : undefined, riskLevel: profile?.risk_level ?? 'low', owed: stepUpsFromRows(row?.owed) };
  if (row?.binding) {
    state.binding = { userAgent: row.binding.user_agent, lastRefreshAt: row.binding.last_refresh_ms };
    if (row.binding.device_id !== null) state.binding.deviceId = row.binding.device_id;
  }
  if (row?.device) {
    state.device = { id: row.device.id, accountId: row.device.account_id };
    if (row.device.last_posture !== null) state.device.lastPosture = parse(row.device.last_posture);
    if (row.device.last_report_ms !== null) state.device.lastReportAt = row.device.last_report_ms;
    if (row.device.external_compliance !== null) state.device.externalCompliance = parse(row.device.external_compliance);
  }
  return state;
}

export interface PurgeResult {
  assessments: number;
  ipFailures: number;
  bindings: number;
}

/** Rows of assessments or failures, or pages of bindings, that one purge batch looks at (see `RiskStore.purge`). */
export const PURGE_BATCH: Readonly<{ rows: number; pages: number }> = { rows: 5_000, pages: 256 };

export class RiskStore {
  readonly #db: Sql;
  readonly #limits: HistoryLimits;

  constructor(db: Sql, limits: HistoryLimits = DEFAULT_LIMITS) {
    this.#db = db;
    this.#limits = limits;
  }

  /**
   * One round trip, reading only: the account's profile (with its risk level), the address's
   * failures, the grant's binding, the device with key `jkt` and the step-ups session `sessionUid` and the account owe.
   */
  async load(population: PopulationStats, q: { accountId: string; ip: string; grantId?: string; jkt?: string; sessionUid?: string }): Promise<LoadedState> {
    const { rows } = await this.#db.query<LoadRow>(
      `SELECT ${riskStateColumns({ accountId: '$1', ip: '$2', grantId: '$3', jkt: '$4', sessionUid: '$5' })}`,
      [q.accountId, q.ip, q.grantId ?? null, q.jkt ?? null, q.sessionUid ?? null],
      { prepareAs: 'vigil_risk_load_v3' },
    );
    return loadedState(rows[0], population);
  }

  /**
   * One round trip: the assessment, the profile (compare-and-set on its version) and the binding.
   * `profileSaved`: the profile was written (false when none was given, or another write came first).
   */
  async save(req: SaveRequest): Promise<{ profileSaved: boolean }> {
    const parts: [name: string, sql: string][] = [];
    const params: unknown[] = [];
    const p = (value: unknown) => {
      params.push(value);
      return `$${params.length}`;
    };
    if (req.assessment) parts.push(...assessmentInsert(p(jsonRowsParameter([assessmentRow(req.assessment)]))));
    if (req.profile) {
      const { accountId, history, version } = req.profile;
      const json = p(JSON.stringify(historyToJson(history)));
      parts.push(['profile', version === undefined
        ? `INSERT INTO risk_profiles (account_id, history) VALUES (${p(accountId)}, ${json}) ON CONFLICT (account_id) DO NOTHING RETURNING 1`
        : `UPDATE risk_profiles SET history = ${json}, version = version + 1, updated_at = now() WHERE account_id = ${p(accountId)} AND version = ${p(version)} RETURNING 1`]);
    }
    if (req.binding) {
      const b = req.binding;
      parts.push(['binding', `INSERT INTO risk_grant_bindings (grant_id, session_uid, account_id, client_id, device_id, user_agent, last_refresh_at)
        VALUES (${p(b.grantId)}, ${p(b.sessionUid ?? null)}, ${p(b.accountId)}, ${p(b.clientId)}, ${p(b.deviceId ?? null)}, ${p(b.userAgent.slice(0, 512))}, ${p(new Date(b.time).toISOString())})
        ON CONFLICT (grant_id) DO UPDATE SET last_refresh_at = greatest(risk_grant_bindings.last_refresh_at, EXCLUDED.last_refresh_at),
          device_id = coalesce(risk_grant_bindings.device_id, EXCLUDED.device_id),
          user_agent = CASE WHEN risk_grant_bindings.user_agent = '' THEN EXCLUDED.user_agent ELSE risk_grant_bindings.user_agent END`]);
    }
    if (parts.length === 0) return { profileSaved: false };
    if (parts.length === 1) {
      const { rowCount } = await this.#db.query(parts[0][1], params);
      return { profileSaved: parts[0][0] === 'profile' && rowCount > 0 };
    }
    const written = req.profile ? '(SELECT count(*) FROM profile)::int' : '0';
    const { rows } = await this.#db.query<{ profile_rows: number }>(withStatement(parts, `${written} AS profile_rows`), params);
    return { profileSaved: rows[0].profile_rows > 0 };
  }

  /** The account's last assessed risk level (`low` when never stored). */
  async riskLevel(accountId: string): Promise<RiskLevel> {
    const { rows } = await this.#db.query<{ risk_level: RiskLevel | null }>('SELECT risk_level FROM risk_profiles WHERE account_id = $1', [accountId]);
    return rows[0]?.risk_level ?? 'low';
  }

  /**
   * Moves the account's risk level from `previous` to `current` (compare-and-set: of two requests
   * seeing the same change, one wins). True when this call changed it. Called only on a change.
   */
  async setRiskLevel(accountId: string, previous: RiskLevel, current: RiskLevel): Promise<boolean> {
    const { rowCount } = await this.#db.query(
      `INSERT INTO risk_profiles (account_id, history, risk_level) VALUES ($1, '{}'::jsonb, $3)
       ON CONFLICT (account_id) DO UPDATE SET risk_level = EXCLUDED.risk_level
       WHERE coalesce(risk_profiles.risk_level, 'low') = $2`,
      [accountId, previous, current],
    );
    return rowCount > 0;
  }

  /**
   * Moves the bindings' last refresh on, many grants in one statement (the write-behind path of
   * allowed refreshes: a refresh answered a few milliseconds before this runs is not yet seen by
   * the rapid-refresh signal, which compares with token lifetimes of minutes).
   */
  async touchBindings(touches: readonly { grantId: string; time: number }[]): Promise<void> {
    const latest = new Map<string, number>();
    for (const t of touches) latest.set(t.grantId, Math.max(t.time, latest.get(t.grantId) ?? 0));
    if (latest.size === 0) return;
    await this.#db.query(
      `UPDATE risk_grant_bindings b SET last_refresh_at = greatest(b.last_refresh_at, v.t)
       FROM unnest($1::text[], $2::timestamptz[]) AS v(g, t) WHERE b.grant_id = v.g`,
      [[...latest.keys()], [...latest.values()].map((t) => new Date(t).toISOString())],
    );
  }

  /** Stores assessments in one statement (the write-behind path of allowed refreshes), prepared once whatever their number. */
  async insertAssessments(list: readonly StoredAssessment[]): Promise<void> {
    await this.insertAssessmentRows(list.map(assessmentRow));
  }

  /** Stores assessments given as their rows (`assessmentRow`), in one statement. */
  async insertAssessmentRows(rows: readonly string[]): Promise<void> {
    if (rows.length === 0) return;
    await this.#db.query(withStatement(assessmentInsert('$1')), [jsonRowsParameter(rows)], { prepareAs: 'vigil_risk_assessments_insert_v2' });
  }

  /** A failed login: counted for the address, and for the account when there is one. One round trip. */
  async recordFailure(accountId: string | undefined, ip: string, time: number): Promise<void> {
    const cutoff = time - this.#limits.failureWindowMs;
    const ipUpsert = `INSERT INTO risk_ip_failures (ip, failures) VALUES ($1, jsonb_build_array($2::bigint))
      ON CONFLICT (ip) DO UPDATE SET failures = ${appendFailure('risk_ip_failures.failures')}, updated_at = now()`;
    if (accountId === undefined) {
      await this.#db.query(ipUpsert, [ip, time, cutoff, this.#limits.maxFailures]);
      return;
    }
    await this.#db.query(
      `WITH ip AS (${ipUpsert})
       INSERT INTO risk_profiles (account_id, history, failures) VALUES ($5, '{}'::jsonb, jsonb_build_array($2::bigint))
       ON CONFLICT (account_id) DO UPDATE SET failures = ${appendFailure('risk_profiles.failures')}, updated_at = now()`,
      [ip, time, cutoff, this.#limits.maxFailures, accountId],
    );
  }

  /** Grants whose refreshes come from this device (to end them at once when its posture fails). */
  async grantsOnDevice(deviceId: string): Promise<{ grantId: string; sessionUid?: string; accountId: string; clientId: string }[]> {
    const { rows } = await this.#db.query<{ grant_id: string; session_uid: string | null; account_id: string; client_id: string }>(
      'SELECT grant_id, session_uid, account_id, client_id FROM risk_grant_bindings WHERE device_id = $1', [deviceId],
    );
    return rows.map((r) => ({ grantId: r.grant_id, ...(r.session_uid ? { sessionUid: r.session_uid } : {}), accountId: r.account_id, clientId: r.client_id }));
  }

  async forgetGrants(grantIds: readonly string[]): Promise<void> {
    if (grantIds.length > 0) await this.#db.query('DELETE FROM risk_grant_bindings WHERE grant_id = ANY($1::text[])', [grantIds]);
  }

  /**
   * Names the session a sign-in's assessment belongs to (the session is only known once the
   * sign-in completes): the newest unattached login assessment of the account from this address
   * since `since`, unless the session has one already (every authorization of a fresh session calls this).
   * Its level becomes the session's, unless the session was assessed since (a refresh already):
   * call it once the session's `session_activity` row is written.
   */
  async attachLogin(accountId: string, ip: string, sessionUid: string, since: number): Promise<void> {
    await this.#db.query(
      `WITH attached AS (
         UPDATE risk_assessments SET session_uid = $3 WHERE id = (
           SELECT id FROM risk_assessments WHERE account_id = $1 AND ip = $2 AND type = 'login' AND session_uid IS NULL AND at >= $4
             AND NOT EXISTS (SELECT 1 FROM risk_assessments WHERE session_uid = $3 AND type = 'login')
           ORDER BY at DESC, id DESC LIMIT 1)
         RETURNING at, level)
       UPDATE session_activity a SET risk_level = attached.level FROM attached
       WHERE a.session_uid = $3 AND a.risk_level IS DISTINCT FROM attached.level
         AND NOT EXISTS (SELECT 1 FROM risk_assessments r WHERE r.session_uid = $3 AND r.at > attached.at)`,
      [accountId, ip, sessionUid, new Date(since).toISOString()],
    );
  }

  async forgetClient(clientId: string): Promise<void> {
    await this.#db.query('DELETE FROM risk_grant_bindings WHERE client_id = $1', [clientId]);
  }

  /** The latest assessments of an account (newest first). */
  async recent(accountId: string, limit = 50): Promise<(Omit<StoredAssessment, 'assessment'> & Assessment)[]> {
    const { rows } = await this.#db.query<{
      at: Date | string; type: 'login' | 'refresh'; account_id: string; session_uid: string | null; client_id: string; ip: string; ip_is_user: boolean;
      place: GeoLocation | string | null; device_id: string | null; score: number; level: Assessment['level']; decision: Assessment['decision'] | string;
      rules: string[] | string; signals: Assessment['signals'] | string;
    }>('SELECT * FROM risk_assessments WHERE account_id = $1 ORDER BY at DESC, id DESC LIMIT $2', [accountId, limit]);
    return rows.map((r) => ({
      time: new Date(r.at).getTime(), type: r.type, accountId: r.account_id, clientId: r.client_id, ip: r.ip, ipIsUser: r.ip_is_user,
      ...(r.session_uid ? { sessionUid: r.session_uid } : {}),
      ...(r.place ? { place: parse(r.place) } : {}),
      ...(r.device_id ? { deviceId: r.device_id } : {}),
      score: r.score, level: r.level, decision: parse(r.decision), rules: parse(r.rules), signals: parse(r.signals),
    }));
  }

  /**
   * Drops assessments older than the retention, failures past their window, bindings idle past
   * the refresh token lifetime. One instance at a time: each batch is a short transaction of its
   * own that holds the purge's turn, and an instance finding the turn taken leaves the round to
   * the one purging. A batch removes at most `batch.rows` assessments or failures (by their time's
   * index, oldest first), or looks at `batch.pages` pages of bindings: `last_refresh_at` has no
   * index (every refresh moves it; see migration 012), so the bindings are walked once by
   * physical position, a range of pages per batch, and no statement reads the whole table.
   * Returns what was removed, or undefined when another instance had the turn.
   */
  async purge(retentionDays: number, bindingIdleSeconds: number, now = Date.now(), batch = PURGE_BATCH): Promise<PurgeResult | undefined> {
    const removed: PurgeResult = { assessments: 0, ipFailures: 0, bindings: 0 };
    const byTime = (table: string, key: string, column: string, before: number) =>
      deleteOlderInBatches(this.#db, ADVISORY_LOCKS.riskPurge, { table, key, column }, new Date(before).toISOString(), batch.rows);
    const retained = now - retentionDays * 86_400_000;
    const assessments = await byTime('risk_assessments', 'id', 'at', retained);
    if (assessments === undefined) return undefined;
    removed.assessments = assessments;
    // A few rows an hour: one statement.
    if (await this.#purgeBatch(`DELETE FROM risk_decision_counts WHERE hour < ${DECISION_HOUR('$1::timestamptz')}`, [new Date(retained).toISOString()]) === undefined) return undefined;
    const ipFailures = await byTime('risk_ip_failures', 'ip', 'updated_at', now - this.#limits.failureWindowMs);
    if (ipFailures === undefined) return undefined;
    removed.ipFailures = ipFailures;
    // Pages added while the walk goes on hold rows refreshed since it began: none is idle.
    const { rows: [size] } = await this.#db.query<{ pages: string }>(
      "SELECT pg_relation_size('risk_grant_bindings') / current_setting('block_size')::int AS pages");
    const pages = Number(size?.pages ?? 0);
    const idleSince = new Date(now - bindingIdleSeconds * 1000).toISOString();
    for (let page = 0; page < pages; page += batch.pages) {
      const n = await this.#purgeBatch(
        'DELETE FROM risk_grant_bindings WHERE ctid >= $2::text::tid AND ctid < $3::text::tid AND last_refresh_at < $1',
        [idleSince, `(${page},0)`, `(${page + batch.pages},0)`]);
      if (n === undefined) return undefined;
      removed.bindings += n;
    }
    return removed;
  }

  /** One statement in a transaction that holds the purge's turn: the rows it removed, undefined without the turn. */
  #purgeBatch(sql: string, params: unknown[]): Promise<number | undefined> {
    return inPurgeTurn(this.#db, ADVISORY_LOCKS.riskPurge, sql, params);
  }
}
