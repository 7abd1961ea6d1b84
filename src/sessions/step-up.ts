import { ACR_VALUES, acrLevel } from '../config/index.ts';
import type { AdapterFactory, Queryable } from '../store/index.ts';

/** What an authentication must have been to pay a step-up: at `acr` or above, at or after `since`. */
export interface StepUpRequirement {
  acr: string;
  reason: string;
  /** Epoch seconds: only an authentication at or after this time satisfies the requirement. */
  since: number;
  /**
   * Epoch seconds, a person's requirement only: the first sign-in at `acr` since `since`. An
   * authentication from then on pays it at any level (the person has proved it once); an earlier
   * one still does not.
   */
  metAt?: number;
  /** Who owes it: the session (the risk engine asked) or the person (an administrator or a security event asked). */
  owedBy?: 'session' | 'person';
}

export interface StepUpRow {
  required_acr: string;
  reason: string;
  since: number | string;
  met_at: number | string | null;
  owed_by?: 'session' | 'person';
}

const epoch = (column: string) => `floor(extract(epoch FROM ${column}))::float8`;

/**
 * The SQL reading every requirement an authentication of session `session` (a uid) of account
 * `account` must pay: the session's own (the risk engine's) and the person's. SQL expressions as
 * parameters, so that other stores read them in their own statements.
 */
export function stepUpQuery(session: string, account: string): string {
  return `SELECT required_acr, reason, ${epoch('created_at')} AS since, NULL::float8 AS met_at, 'session' AS owed_by FROM step_up_requirements WHERE session_uid = ${session}
    UNION ALL SELECT required_acr, reason, ${epoch('created_at')}, ${epoch('met_at')}, 'person' FROM account_step_up_requirements WHERE account_id = ${account}`;
}

export function stepUpFromRow(row: StepUpRow): StepUpRequirement {
  const requirement: StepUpRequirement = { acr: row.required_acr, reason: row.reason, since: Number(row.since) };
  if (row.met_at !== null && row.met_at !== undefined) requirement.metAt = Number(row.met_at);
  if (row.owed_by) requirement.owedBy = row.owed_by;
  return requirement;
}

/** The rows of `stepUpQuery`, also as a JSON array (or none) when read as one column of another statement. */
export function stepUpsFromRows(rows: readonly StepUpRow[] | string | null | undefined): StepUpRequirement[] {
  if (!rows) return [];
  return (typeof rows === 'string' ? JSON.parse(rows) as StepUpRow[] : rows).map(stepUpFromRow);
}

/**
 * Step-ups owed. Two kinds:
 * - a session's ("this session must prove acr X again before its next token"), set by the risk
 *   engine for the session of the refresh it judged. Refresh tokens carry their session's uid, so
 *   it binds them after the session record has ended too (and then for good: a new sign-in is a
 *   new session);
 * - a person's (`requireOfAccount`), set by an administrator or a trusted transmitter: every grant
 *   the person holds, with or without a live session, and the next sign-in.
 * The next authorization request of a bound session performs the step-up (a session already at
 * that level still proves a factor again). Refresh tokens from an authentication before the
 * requirement, or below its acr, stay refused for good: only tokens of a later authentication at
 * that level qualify.
 */
export class StepUpRequirements {
  readonly #db: Queryable;

  constructor(db: Queryable) {
    this.#db = db;
  }

  /** A session's. A second requirement never weakens the first; it does move `since` on. */
  async require(sessionUid: string, accountId: string, requiredAcr: string, reason: string): Promise<void> {
    if (acrLevel(requiredAcr) < 0) throw new Error(`unknown acr ${requiredAcr}`);
    const current = (await this.owed(sessionUid, undefined))[0];
    const acr = current && acrLevel(current.acr) > acrLevel(requiredAcr) ? current.acr : requiredAcr;
    await this.#db.query(
      `INSERT INTO step_up_requirements (session_uid, account_id, required_acr, reason) VALUES ($1, $2, $3, $4)
       ON CONFLICT (session_uid) DO UPDATE SET required_acr = EXCLUDED.required_acr, reason = EXCLUDED.reason, created_at = now()`,
      [sessionUid, accountId, acr, reason],
    );
  }

  /**
   * A person's: every authentication before now, or below `requiredAcr`, no longer gives tokens.
   * A second requirement never weakens one not met yet; it moves `since` on, and is owed again.
   */
  async requireOfAccount(accountId: string, requiredAcr: string, reason: string): Promise<StepUpRequirement> {
    if (acrLevel(requiredAcr) < 0) throw new Error(`unknown acr ${requiredAcr}`);
    const { rows } = await this.#db.query<StepUpRow>(
      `INSERT INTO account_step_up_requirements AS r (account_id, required_acr, reason) VALUES ($1, $2, $3)
       ON CONFLICT (account_id) DO UPDATE SET
         required_acr = CASE WHEN r.met_at IS NULL AND array_position($4::text[], r.required_acr) > array_position($4::text[], EXCLUDED.required_acr)
           THEN r.required_acr ELSE EXCLUDED.required_acr END,
         reason = EXCLUDED.reason, created_at = now(), met_at = NULL
       RETURNING required_acr, reason, ${epoch('created_at')} AS since, NULL::float8 AS met_at, 'person' AS owed_by`,
      [accountId, requiredAcr, reason.slice(0, 500), ACR_VALUES],
    );
    return stepUpFromRow(rows[0]);
  }

  /** What an authentication of this session of this account must pay (one statement). */
  async owed(sessionUid: string | undefined, accountId: string | undefined): Promise<StepUpRequirement[]> {
    const { rows } = await this.#db.query<StepUpRow>(stepUpQuery('$1', '$2'), [sessionUid ?? null, accountId ?? null], { prepareAs: 'vigil_step_ups_owed' });
    return stepUpsFromRows(rows);
  }

  async forget(sessionUid: string): Promise<void> {
    await this.#db.query('DELETE FROM step_up_requirements WHERE session_uid = $1', [sessionUid]);
  }
}

/** A person's step-up as required, and what it covers now. */
export interface PersonStepUp {
  acr: string;
  /** Epoch seconds: authentications before this no longer give tokens. */
  since: number;
  /** The grants the person holds (their refresh tokens refuse until the step-up), with or without a live session. */
  grants: number;
  /** The live sessions (their next authorization request asks for the step-up). */
  sessions: number;
}

/** Requires a step-up of a person (CLI, admin API and console, a trusted transmitter's event): every grant they hold. */
export async function requirePersonStepUp(
  deps: { stepUps: StepUpRequirements; adapters: Pick<AdapterFactory, 'for'> }, accountId: string, acr: string, reason: string,
): Promise<PersonStepUp> {
  const required = await deps.stepUps.requireOfAccount(accountId, acr, reason);
  const [grants, sessions] = await Promise.all([
    deps.adapters.for('Grant').findByAccountId(accountId), deps.adapters.for('Session').findByAccountId(accountId),
  ]);
  return { acr: required.acr, since: required.since, grants: grants.length, sessions: sessions.length };
}
