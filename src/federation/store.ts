/** Links between upstream identities and accounts, each provider's last sign-in and error, federated sessions. */
import type { Queryable } from '../store/index.ts';

export interface FederatedIdentity {
  provider: string;
  subject: string;
  accountId: string;
  email: string | null;
  provisioned: boolean;
  linkedAt: Date;
  lastSignInAt: Date | null;
}

export interface ProviderStatus {
  provider: string;
  lastSignInAt: Date | null;
  lastError: string | null;
  lastErrorAt: Date | null;
}

interface IdentityRow {
  provider: string;
  subject: string;
  account_id: string;
  email: string | null;
  provisioned: boolean;
  linked_at: Date;
  last_sign_in_at: Date | null;
}

const toIdentity = (r: IdentityRow): FederatedIdentity => ({
  provider: r.provider, subject: r.subject, accountId: r.account_id, email: r.email, provisioned: r.provisioned,
  linkedAt: new Date(r.linked_at), lastSignInAt: r.last_sign_in_at ? new Date(r.last_sign_in_at) : null,
});

export class FederationStore {
  readonly #db: Queryable;

  constructor(db: Queryable) {
    this.#db = db;
  }

  async find(provider: string, subject: string): Promise<FederatedIdentity | undefined> {
    const { rows } = await this.#db.query<IdentityRow>('SELECT * FROM federated_identities WHERE provider = $1 AND subject = $2', [provider, subject]);
    return rows[0] && toIdentity(rows[0]);
  }

  async ofAccount(accountId: string): Promise<FederatedIdentity[]> {
    const { rows } = await this.#db.query<IdentityRow>('SELECT * FROM federated_identities WHERE account_id = $1 ORDER BY provider', [accountId]);
    return rows.map(toIdentity);
  }

  /** Writes the link; false when the upstream identity is linked already (to whichever account). */
  async link(input: { provider: string; subject: string; accountId: string; email?: string; provisioned: boolean }): Promise<boolean> {
    const { rows } = await this.#db.query(
      `INSERT INTO federated_identities (provider, subject, account_id, email, provisioned, last_sign_in_at) VALUES ($1, $2, $3, $4, $5, now())
       ON CONFLICT (provider, subject) DO NOTHING RETURNING provider`,
      [input.provider, input.subject, input.accountId, input.email ?? null, input.provisioned],
    );
    return rows.length === 1;
  }

  async signedIn(provider: string, subject: string, email: string | undefined): Promise<void> {
    await this.#db.query(
      'UPDATE federated_identities SET last_sign_in_at = now(), email = COALESCE($3, email) WHERE provider = $1 AND subject = $2',
      [provider, subject, email ?? null],
    );
    await this.#db.query(
      `INSERT INTO federation_status (provider, last_sign_in_at) VALUES ($1, now())
       ON CONFLICT (provider) DO UPDATE SET last_sign_in_at = EXCLUDED.last_sign_in_at`, [provider],
    );
  }

  async failed(provider: string, error: string): Promise<void> {
    await this.#db.query(
      `INSERT INTO federation_status (provider, last_error, last_error_at) VALUES ($1, $2, now())
       ON CONFLICT (provider) DO UPDATE SET last_error = EXCLUDED.last_error, last_error_at = EXCLUDED.last_error_at`, [provider, error.slice(0, 500)],
    );
  }

  async statuses(): Promise<Map<string, ProviderStatus>> {
    const { rows } = await this.#db.query<{ provider: string; last_sign_in_at: Date | null; last_error: string | null; last_error_at: Date | null }>(
      'SELECT provider, last_sign_in_at, last_error, last_error_at FROM federation_status',
    );
    return new Map(rows.map((r) => [r.provider, {
      provider: r.provider, lastSignInAt: r.last_sign_in_at && new Date(r.last_sign_in_at), lastError: r.last_error, lastErrorAt: r.last_error_at && new Date(r.last_error_at),
    }]));
  }

  /** A session that began with this upstream sign-in (written when the authorization that made it succeeds). */
  async recordSession(input: { sessionUid: string; provider: string; subject: string; upstreamSession?: string; accountId: string }): Promise<void> {
    await this.#db.query(
      `INSERT INTO federated_sessions (session_uid, provider, subject, upstream_session, account_id) VALUES ($1, $2, $3, $4, $5)
       ON CONFLICT (session_uid) DO UPDATE SET provider = EXCLUDED.provider, subject = EXCLUDED.subject,
         upstream_session = EXCLUDED.upstream_session, account_id = EXCLUDED.account_id, created_at = now()`,
      [input.sessionUid, input.provider, input.subject, input.upstreamSession ?? null, input.accountId],
    );
  }

  /** The Vigil sessions begun through this upstream identity (only those of its upstream session, when named). */
  async sessionsOf(provider: string, subject: string, upstreamSession?: string): Promise<string[]> {
    const { rows } = await this.#db.query<{ session_uid: string }>(
      `SELECT session_uid FROM federated_sessions WHERE provider = $1 AND subject = $2 AND ($3::text IS NULL OR upstream_session = $3) ORDER BY created_at`,
      [provider, subject, upstreamSession ?? null],
    );
    return rows.map((r) => r.session_uid);
  }

  /** The upstream sign-in a session began with (for the directory's re-check at refresh). */
  async sessionOrigin(sessionUid: string): Promise<{ provider: string; subject: string; accountId: string; createdAt: Date } | undefined> {
    const { rows } = await this.#db.query<{ provider: string; subject: string; account_id: string; created_at: Date }>(
      'SELECT provider, subject, account_id, created_at FROM federated_sessions WHERE session_uid = $1', [sessionUid],
    );
    const row = rows[0];
    return row && { provider: row.provider, subject: row.subject, accountId: row.account_id, createdAt: new Date(row.created_at) };
  }

  /** Rows of sessions older than the longest a session lives. */
  async purge(olderThanSeconds: number): Promise<number> {
    const { rowCount } = await this.#db.query('DELETE FROM federated_sessions WHERE created_at < now() - make_interval(secs => $1)', [olderThanSeconds]);
    return rowCount ?? 0;
  }
}
