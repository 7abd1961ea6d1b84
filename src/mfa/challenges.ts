import type { Queryable } from '../store/index.ts';

export interface Challenge<T> {
  accountId?: string;
  data: T;
}

/** Single-use, expiring ceremony state shared by every instance. */
export class ChallengeStore {
  readonly #db: Queryable;

  constructor(db: Queryable) {
    this.#db = db;
  }

  async put<T>(id: string, purpose: string, data: T, ttlSeconds: number, accountId?: string): Promise<void> {
    await this.#db.query(
      `INSERT INTO mfa_challenges (id, account_id, purpose, data, expires_at) VALUES ($1, $2, $3, $4, now() + make_interval(secs => $5))
       ON CONFLICT (id) DO UPDATE SET account_id = EXCLUDED.account_id, purpose = EXCLUDED.purpose, data = EXCLUDED.data, expires_at = EXCLUDED.expires_at`,
      [id, accountId ?? null, purpose, JSON.stringify(data), ttlSeconds],
    );
  }

  /** Reads without consuming (the state of a ceremony that is still going on). */
  async peek<T>(id: string, purpose: string): Promise<Challenge<T> | undefined> {
    const { rows } = await this.#db.query<{ account_id: string | null; data: T }>(
      'SELECT account_id, data FROM mfa_challenges WHERE id = $1 AND purpose = $2 AND expires_at > now()', [id, purpose],
    );
    return rows[0] && { accountId: rows[0].account_id ?? undefined, data: rows[0].data };
  }

  /** Consumes: a challenge answers one response only. */
  async take<T>(id: string, purpose: string): Promise<Challenge<T> | undefined> {
    const { rows } = await this.#db.query<{ account_id: string | null; data: T; live: boolean }>(
      'DELETE FROM mfa_challenges WHERE id = $1 AND purpose = $2 RETURNING account_id, data, expires_at > now() AS live', [id, purpose],
    );
    return rows[0]?.live ? { accountId: rows[0].account_id ?? undefined, data: rows[0].data } : undefined;
  }

  async purgeExpired(): Promise<void> {
    await this.#db.query('DELETE FROM mfa_challenges WHERE expires_at < now()');
  }
}
