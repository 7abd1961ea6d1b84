import { ACR_VALUES, acrLevel } from '../config/index.ts';
import type { Queryable } from '../store/index.ts';

export interface SignInRequirement {
  requiredAcr: string;
  reason: string;
}

/**
 * An account whose next sign-in must reach an acr (its password alone is no longer trusted), until
 * a sign-in meets it. Per account, unlike a session's step-up: the sessions are gone already.
 */
export class SignInRequirements {
  readonly #db: Queryable;

  constructor(db: Queryable) {
    this.#db = db;
  }

  /** A second requirement never weakens the first. */
  async require(accountId: string, requiredAcr: string, reason: string): Promise<void> {
    if (acrLevel(requiredAcr) < 0) throw new Error(`unknown acr ${requiredAcr}`);
    const current = await this.find(accountId);
    const acr = current && acrLevel(current.requiredAcr) > acrLevel(requiredAcr) ? current.requiredAcr : requiredAcr;
    await this.#db.query(
      `INSERT INTO sign_in_requirements (account_id, required_acr, reason) VALUES ($1, $2, $3)
       ON CONFLICT (account_id) DO UPDATE SET required_acr = EXCLUDED.required_acr, reason = EXCLUDED.reason, created_at = now()`,
      [accountId, acr, reason.slice(0, 500)],
    );
  }

  async find(accountId: string): Promise<SignInRequirement | undefined> {
    const { rows } = await this.#db.query<{ required_acr: string; reason: string }>(
      'SELECT required_acr, reason FROM sign_in_requirements WHERE account_id = $1', [accountId],
    );
    return rows[0] && { requiredAcr: rows[0].required_acr, reason: rows[0].reason };
  }

  /** A sign-in at `acr` happened: the requirement it meets is gone (one statement, on every sign-in). */
  async met(accountId: string, acr: string): Promise<void> {
    const level = acrLevel(acr);
    if (level < 0) return;
    await this.#db.query('DELETE FROM sign_in_requirements WHERE account_id = $1 AND required_acr = ANY($2::text[])', [accountId, ACR_VALUES.slice(0, level + 1)]);
  }
}
