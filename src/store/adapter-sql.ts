import type { Sql } from './sql.ts';
import type { Payload, PayloadCodec } from './payload-codec.ts';
import type { Adapter, DoubleConsumeHandler } from './adapter-types.ts';

interface Row {
  payload: Payload;
  consumed_at: Date | string | null;
}

const epoch = (value: Date | string) => Math.floor(new Date(value).getTime() / 1000);

/**
 * A refresh grant reads the refresh token, then its grant: the grant comes back with the token in
 * one query and waits here, for a moment, for the grant read that follows.
 */
export class GrantPrefetch {
  readonly #held = new Map<string, { payload: Payload; until: number }>();

  hold(grantId: string, payload: Payload): void {
    if (this.#held.size > 10_000) this.#held.clear();
    this.#held.set(grantId, { payload, until: Date.now() + 1000 });
  }

  /** The grant read with its token, once; undefined when there is none or it is older than a second. */
  take(grantId: string): Payload | undefined {
    const held = this.#held.get(grantId);
    if (!held) return undefined;
    this.#held.delete(grantId);
    return held.until > Date.now() ? held.payload : undefined;
  }

  forget(grantId: string): void {
    this.#held.delete(grantId);
  }
}

/** oidc-provider adapter over Postgres/PGlite: one table, one row per model instance. */
export class SqlAdapter implements Adapter {
  readonly name: string;
  readonly #sql: Sql;
  readonly #codec: PayloadCodec;
  readonly #onDoubleConsume: DoubleConsumeHandler;
  readonly #grants: GrantPrefetch | undefined;

  constructor(name: string, sql: Sql, codec: PayloadCodec, onDoubleConsume: DoubleConsumeHandler, grants?: GrantPrefetch) {
    this.name = name;
    this.#sql = sql;
    this.#codec = codec;
    this.#onDoubleConsume = onDoubleConsume;
    this.#grants = grants;
  }

  async upsert(id: string, payload: Payload, expiresIn?: number): Promise<void> {
    if (this.name === 'Grant') this.#grants?.forget(id);
    const key = this.#codec.storageId(this.name, id);
    const stored = this.#codec.encode(this.name, id, payload);
    await this.#sql.query(
      `INSERT INTO oidc_payloads (model, id, payload, grant_id, uid, user_code, account_id, expires_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, CASE WHEN $8::integer IS NULL THEN NULL ELSE now() + make_interval(secs => $8::integer) END)
       ON CONFLICT (model, id) DO UPDATE SET payload = EXCLUDED.payload, grant_id = EXCLUDED.grant_id, uid = EXCLUDED.uid,
         user_code = EXCLUDED.user_code, account_id = EXCLUDED.account_id, expires_at = EXCLUDED.expires_at`,
      [this.name, key, JSON.stringify(stored), payload.grantId ?? null, payload.uid ?? null, payload.userCode ?? null,
        payload.accountId ?? null, expiresIn ? Math.ceil(expiresIn) : null],
      { prepareAs: 'vigil_oidc_upsert' },
    );
  }

  #decode(id: string, row: Row | undefined, byStorageId = false): Payload | undefined {
    if (!row) return undefined;
    const payload = byStorageId
      ? this.#codec.decodeByStorageId(this.name, id, row.payload)
      : this.#codec.decode(this.name, id, row.payload);
    if (row.consumed_at) payload.consumed = epoch(row.consumed_at);
    return payload;
  }

  async find(id: string): Promise<Payload | undefined> {
    if (this.#grants && this.name === 'Grant') {
      const held = this.#grants.take(id);
      if (held) return held;
    }
    if (this.#grants && this.name === 'RefreshToken') return this.#findRefreshTokenWithGrant(id);
    const { rows } = await this.#sql.query<Row>(
      'SELECT payload, consumed_at FROM oidc_payloads WHERE model = $1 AND id = $2 AND (expires_at IS NULL OR expires_at > now())',
      [this.name, this.#codec.storageId(this.name, id)],
      { prepareAs: 'vigil_oidc_find' },
    );
    return this.#decode(id, rows[0]);
  }

  async #findRefreshTokenWithGrant(id: string): Promise<Payload | undefined> {
    const { rows } = await this.#sql.query<Row & { grant_id: string | null; grant_payload: Payload | null }>(
      `SELECT t.payload, t.consumed_at, t.grant_id, g.payload AS grant_payload FROM oidc_payloads t
       LEFT JOIN oidc_payloads g ON g.model = 'Grant' AND g.id = t.grant_id AND (g.expires_at IS NULL OR g.expires_at > now())
       WHERE t.model = 'RefreshToken' AND t.id = $1 AND (t.expires_at IS NULL OR t.expires_at > now())`,
      [this.#codec.storageId(this.name, id)],
      { prepareAs: 'vigil_oidc_find_refresh_token' },
    );
    const row = rows[0];
    if (row?.grant_id && row.grant_payload) this.#grants!.hold(row.grant_id, this.#codec.decode('Grant', row.grant_id, row.grant_payload));
    return this.#decode(id, row);
  }

  async #findBy(column: 'uid' | 'user_code', value: string): Promise<Payload | undefined> {
    const { rows } = await this.#sql.query<Row & { id: string }>(
      `SELECT id, payload, consumed_at FROM oidc_payloads WHERE model = $1 AND ${column} = $2 AND (expires_at IS NULL OR expires_at > now()) LIMIT 1`,
      [this.name, value],
    );
    return rows[0] ? this.#decode(rows[0].id, rows[0], true) : undefined;
  }

  findByUid(uid: string): Promise<Payload | undefined> {
    return this.#findBy('uid', uid);
  }

  findByUserCode(userCode: string): Promise<Payload | undefined> {
    return this.#findBy('user_code', userCode);
  }

  async consume(id: string): Promise<void> {
    const key = this.#codec.storageId(this.name, id);
    const { rowCount } = await this.#sql.query(
      'UPDATE oidc_payloads SET consumed_at = now() WHERE model = $1 AND id = $2 AND consumed_at IS NULL',
      [this.name, key],
      { prepareAs: 'vigil_oidc_consume' },
    );
    if (rowCount === 0) {
      const { rows } = await this.#sql.query<{ grant_id: string | null }>('SELECT grant_id FROM oidc_payloads WHERE model = $1 AND id = $2', [this.name, key]);
      await this.#onDoubleConsume(this.name, rows[0]?.grant_id ?? undefined);
    }
  }

  async destroy(id: string): Promise<void> {
    if (this.name === 'Grant') this.#grants?.forget(id);
    await this.#sql.query('DELETE FROM oidc_payloads WHERE model = $1 AND id = $2', [this.name, this.#codec.storageId(this.name, id)]);
  }

  async revokeByGrantId(grantId: string): Promise<void> {
    await this.#sql.query('DELETE FROM oidc_payloads WHERE model = $1 AND grant_id = $2', [this.name, grantId]);
  }

  async revokeByClientId(clientId: string): Promise<void> {
    await this.#sql.query("DELETE FROM oidc_payloads WHERE model = $1 AND payload->>'clientId' = $2", [this.name, clientId]);
  }

  async destroyByAccountId(accountId: string): Promise<void> {
    await this.#sql.query('DELETE FROM oidc_payloads WHERE model = $1 AND account_id = $2', [this.name, accountId]);
  }

  async findByAccountId(accountId: string): Promise<Payload[]> {
    const { rows } = await this.#sql.query<Row & { id: string }>(
      'SELECT id, payload, consumed_at FROM oidc_payloads WHERE model = $1 AND account_id = $2 AND (expires_at IS NULL OR expires_at > now())',
      [this.name, accountId],
    );
    return rows.map((row) => this.#decode(row.id, row, true)!);
  }
}

/** Expired rows are invisible to find(); this reclaims their space. */
export async function purgeExpired(sql: Sql): Promise<number> {
  const { rowCount } = await sql.query('DELETE FROM oidc_payloads WHERE expires_at < now() - interval \'1 hour\'');
  await sql.query('DELETE FROM login_rate_limits WHERE expire < $1', [Date.now() - 3_600_000]);
  return rowCount;
}
