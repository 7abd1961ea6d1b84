import { acrLevel } from '../config/index.ts';
import type { Queryable } from '../store/index.ts';

export interface StepUpRequirement {
  requiredAcr: string;
  reason: string;
  /** Epoch seconds: only an authentication at or after this time satisfies the requirement. */
  since: number;
}

export interface StepUpRow {
  required_acr: string;
  reason: string;
  since: number | string;
}

/** The SQL reading a session's requirement, its uid in parameter `param` (other stores read it in their own statements). */
export function stepUpQuery(param: string): string {
  return `SELECT required_acr, reason, floor(extract(epoch FROM created_at))::float8 AS since FROM step_up_requirements WHERE session_uid = ${param}`;
}

export function stepUpFromRow(row: StepUpRow): StepUpRequirement {
  return { requiredAcr: row.required_acr, reason: row.reason, since: Number(row.since) };
}

/**
 * "This session must prove acr X again before its next token." Policy (the risk engine, an
 * admin) sets it; the next authorization request of the session performs the step-up (a session
 * already at that level still proves a factor again). Refresh tokens of the session from an
 * authentication before the requirement, or below that acr, stay refused for good: only tokens
 * from the stepped-up authorization qualify.
 */
export class StepUpRequirements {
  readonly #db: Queryable;

  constructor(db: Queryable) {
    this.#db = db;
  }

  /** A second requirement never weakens the first; it does move `since` on. */
  async require(sessionUid: string, accountId: string, requiredAcr: string, reason: string): Promise<void> {
    if (acrLevel(requiredAcr) < 0) throw new Error(`unknown acr ${requiredAcr}`);
    const current = await this.find(sessionUid);
    const acr = current && acrLevel(current.requiredAcr) > acrLevel(requiredAcr) ? current.requiredAcr : requiredAcr;
    await this.#db.query(
      `INSERT INTO step_up_requirements (session_uid, account_id, required_acr, reason) VALUES ($1, $2, $3, $4)
       ON CONFLICT (session_uid) DO UPDATE SET required_acr = EXCLUDED.required_acr, reason = EXCLUDED.reason, created_at = now()`,
      [sessionUid, accountId, acr, reason],
    );
  }

  async find(sessionUid: string): Promise<StepUpRequirement | undefined> {
    const { rows } = await this.#db.query<StepUpRow>(stepUpQuery('$1'), [sessionUid], { prepareAs: 'vigil_step_up_find' });
    return rows[0] && stepUpFromRow(rows[0]);
  }

  async forget(sessionUid: string): Promise<void> {
    await this.#db.query('DELETE FROM step_up_requirements WHERE session_uid = $1', [sessionUid]);
  }
}
