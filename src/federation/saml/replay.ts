import type { Queryable } from '../../store/index.ts';

// Expired ids are purged after an accepted assertion, at most this often per process.
const PURGE_EVERY_MS = 60_000;

/** The ids of SAML assertions already accepted (table saml_assertion_ids), until they expire. */
export class AssertionIds {
  readonly #sql: Queryable;
  #lastPurge = 0;

  constructor(sql: Queryable) {
    this.#sql = sql;
  }

  /**
   * Records the assertion as used; false when it was used before and has not expired. One statement,
   * so of two instances accepting the same assertion at once exactly one gets true. A row that
   * expired but was not purged yet is taken over.
   */
  async firstUse(provider: string, assertionId: string, expiresAt: Date): Promise<boolean> {
    const { rowCount } = await this.#sql.query(
      `INSERT INTO saml_assertion_ids (provider, assertion_id, expires_at) VALUES ($1, $2, $3)
       ON CONFLICT (provider, assertion_id) DO UPDATE SET expires_at = EXCLUDED.expires_at
       WHERE saml_assertion_ids.expires_at <= now()`,
      [provider, assertionId, expiresAt],
    );
    if (rowCount === 1 && Date.now() - this.#lastPurge > PURGE_EVERY_MS) {
      this.#lastPurge = Date.now();
      // Best effort: the assertion is accepted already; the next purge takes what this one missed.
      await this.purgeExpired().catch(() => {});
    }
    return rowCount === 1;
  }

  async purgeExpired(): Promise<number> {
    const { rowCount } = await this.#sql.query('DELETE FROM saml_assertion_ids WHERE expires_at <= now()');
    return rowCount;
  }
}
