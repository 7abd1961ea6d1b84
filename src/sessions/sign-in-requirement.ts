import { ACR_VALUES, acrLevel } from '../config/index.ts';
import type { Queryable } from '../store/index.ts';

export interface SignInRequirement {
  requiredAcr: string;
  reason: string;
  /**
   * Why: the account's password is no longer trusted alone (`sign_in_requirements`), or the person
   * owes a step-up not met yet (`account_step_up_requirements`, see StepUpRequirements).
   */
  kind: 'password_distrusted' | 'step_up';
}

/**
 * What an account's next sign-in must reach, until a sign-in meets it: an acr set because its
 * password alone is no longer trusted (per account, unlike a session's step-up: the sessions are
 * gone already), or a step-up required of the person and not met yet.
 */
export class SignInRequirements {
  readonly #db: Queryable;

  constructor(db: Queryable) {
    this.#db = db;
  }

  /** A second requirement never weakens the first. */
  async require(accountId: string, requiredAcr: string, reason: string): Promise<void> {
    if (acrLevel(requiredAcr) < 0) throw new Error(`unknown acr ${requiredAcr}`);
    const current = (await this.#all(accountId)).find((r) => r.kind === 'password_distrusted');
    const acr = current && acrLevel(current.requiredAcr) > acrLevel(requiredAcr) ? current.requiredAcr : requiredAcr;
    await this.#db.query(
      `INSERT INTO sign_in_requirements (account_id, required_acr, reason) VALUES ($1, $2, $3)
       ON CONFLICT (account_id) DO UPDATE SET required_acr = EXCLUDED.required_acr, reason = EXCLUDED.reason, created_at = now()`,
      [accountId, acr, reason.slice(0, 500)],
    );
  }

  /** The strongest requirement the next sign-in owes (one statement). */
  async find(accountId: string): Promise<SignInRequirement | undefined> {
    let strongest: SignInRequirement | undefined;
    for (const r of await this.#all(accountId)) if (!strongest || acrLevel(r.requiredAcr) > acrLevel(strongest.requiredAcr)) strongest = r;
    return strongest;
  }

  async #all(accountId: string): Promise<SignInRequirement[]> {
    const { rows } = await this.#db.query<SignInRequirement>(
      `SELECT required_acr AS "requiredAcr", reason, 'password_distrusted' AS kind FROM sign_in_requirements WHERE account_id = $1
       UNION ALL SELECT required_acr, reason, 'step_up' FROM account_step_up_requirements WHERE account_id = $1 AND met_at IS NULL`,
      [accountId],
    );
    return rows.map((r) => ({ requiredAcr: r.requiredAcr, reason: r.reason, kind: r.kind }));
  }

  /**
   * A sign-in at `acr` happened: the requirements it meets are gone, or, for a person's step-up,
   * marked met (earlier authentications stay refused). One statement, on every sign-in.
   */
  async met(accountId: string, acr: string): Promise<void> {
    const level = acrLevel(acr);
    if (level < 0) return;
    await this.#db.query(
      `WITH gone AS (DELETE FROM sign_in_requirements WHERE account_id = $1 AND required_acr = ANY($2::text[]))
       UPDATE account_step_up_requirements SET met_at = now() WHERE account_id = $1 AND met_at IS NULL AND required_acr = ANY($2::text[])`,
      [accountId, ACR_VALUES.slice(0, level + 1)],
    );
  }
}
