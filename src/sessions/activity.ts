import type { Queryable } from '../store/index.ts';

export interface SessionActivity {
  sessionUid: string;
  userAgent: string;
  ip: string;
  createdAt: Date;
  lastSeenAt: Date;
}

/** Where and on what each session was last seen. */
export class SessionActivityLog {
  readonly #db: Queryable;

  constructor(db: Queryable) {
    this.#db = db;
  }

  async touch(sessionUid: string, accountId: string, userAgent: string, ip: string): Promise<void> {
    await this.#db.query(
      `INSERT INTO session_activity (session_uid, account_id, user_agent, ip) VALUES ($1, $2, $3, $4)
       ON CONFLICT (session_uid) DO UPDATE SET user_agent = EXCLUDED.user_agent, ip = EXCLUDED.ip, last_seen_at = now()`,
      [sessionUid, accountId, userAgent.slice(0, 512), ip],
    );
  }

  async forAccount(accountId: string): Promise<Map<string, SessionActivity>> {
    const { rows } = await this.#db.query<{ session_uid: string; user_agent: string; ip: string; created_at: Date; last_seen_at: Date }>(
      'SELECT session_uid, user_agent, ip, created_at, last_seen_at FROM session_activity WHERE account_id = $1', [accountId],
    );
    return new Map(rows.map((r) => [r.session_uid, { sessionUid: r.session_uid, userAgent: r.user_agent, ip: r.ip, createdAt: new Date(r.created_at), lastSeenAt: new Date(r.last_seen_at) }]));
  }

  async forget(sessionUids: string | string[]): Promise<void> {
    await this.#db.query('DELETE FROM session_activity WHERE session_uid = ANY($1::text[])', [Array.isArray(sessionUids) ? sessionUids : [sessionUids]]);
  }
}
