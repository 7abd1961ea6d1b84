import type { Sql } from './sql.ts';
import type { Payload, PayloadCodec } from './payload-codec.ts';
import type { Adapter, DoubleConsumeHandler } from './adapter-types.ts';
import { TickBatch } from './tick-batch.ts';
import { RequestSlot } from './request-slot.ts';
import type { ResponseWrites } from './response-writes.ts';
import type { SessionPrefetch } from './session-prefetch.ts';

interface Row {
  payload: Payload;
  consumed_at: Date | string | null;
}

const INSERT_COLUMNS = 'INSERT INTO oidc_payloads (model, id, payload, grant_id, uid, user_code, account_id, expires_at, client_id)';
const ON_CONFLICT_REPLACE = `ON CONFLICT (model, id) DO UPDATE SET payload = EXCLUDED.payload, grant_id = EXCLUDED.grant_id, uid = EXCLUDED.uid,
    user_code = EXCLUDED.user_code, account_id = EXCLUDED.account_id, expires_at = EXCLUDED.expires_at, client_id = EXCLUDED.client_id`;

const UPSERT = `${INSERT_COLUMNS}
  VALUES ($1, $2, $3, $4, $5, $6, $7, CASE WHEN $8::integer IS NULL THEN NULL ELSE now() + make_interval(secs => $8::integer) END, $9)
  ${ON_CONFLICT_REPLACE}`;

/**
 * Rotations, many in one statement: each input's old refresh token is consumed and, only where
 * that took (nobody consumed it first, not even another input of the same batch), its successor
 * is stored. Returns the ordinals of the inputs whose consume took.
 */
const ROTATE = `WITH input AS (
    SELECT * FROM unnest($1::text[], $2::jsonb[], $3::text[], $4::text[], $5::text[], $6::text[], $7::integer[], $8::text[], $9::text[])
      WITH ORDINALITY AS i(id, payload, grant_id, uid, user_code, account_id, ttl, client_id, old, n)),
  first_claim AS (SELECT DISTINCT ON (old) old, n FROM input ORDER BY old, n),
  consumed AS (
    UPDATE oidc_payloads o SET consumed_at = now() FROM first_claim f
    WHERE o.model = 'RefreshToken' AND o.id = f.old AND o.consumed_at IS NULL RETURNING f.n),
  stored AS (
    ${INSERT_COLUMNS}
    SELECT 'RefreshToken', i.id, i.payload, i.grant_id, i.uid, i.user_code, i.account_id,
      CASE WHEN i.ttl IS NULL THEN NULL ELSE now() + make_interval(secs => i.ttl) END, i.client_id
    FROM input i WHERE i.n IN (SELECT n FROM consumed)
    ${ON_CONFLICT_REPLACE})
  SELECT n FROM consumed`;

/**
 * A rotation taken back (its response did not hand the new token out): the successor is deleted
 * and, only if it was still there (so this rotation is the one that consumed the old token, and
 * nothing has revoked the grant since), the old token is usable again.
 */
const UNROTATE = `WITH successor AS (DELETE FROM oidc_payloads WHERE model = 'RefreshToken' AND id = $2 RETURNING id)
  UPDATE oidc_payloads SET consumed_at = NULL
  WHERE model = 'RefreshToken' AND id = $1 AND consumed_at IS NOT NULL AND EXISTS (SELECT 1 FROM successor)`;

/** Refresh tokens (each with its grant, and the companion's columns) by storage id, many in one statement. */
// The grant comes back as text: most reads find it in the grant cache already, and do not parse it.
const refreshTokenQuery = (companionColumns: string | undefined) => `SELECT r.n, t.payload, t.consumed_at, t.grant_id, g.payload::text AS grant_payload${companionColumns ? `, ${companionColumns}` : ''}
  FROM unnest($1::text[], $2::text[]) WITH ORDINALITY AS r(id, input, n)
  JOIN oidc_payloads t ON t.model = 'RefreshToken' AND t.id = r.id AND (t.expires_at IS NULL OR t.expires_at > now())
  LEFT JOIN oidc_payloads g ON g.model = 'Grant' AND g.id = t.grant_id AND (g.expires_at IS NULL OR g.expires_at > now())`;

const epoch = (value: Date | string) => Math.floor(new Date(value).getTime() / 1000);

/**
 * A refresh grant reads the refresh token, then its grant: the grant comes back with the token in
 * one query and waits here, for a moment, for the grant read that follows — unless a cache in
 * front of the grants keeps a fresh copy already (that read never reaches the adapter).
 */
export class GrantPrefetch {
  static readonly HOLD_MS = 1000;
  /** Oldest first (a grant held again moves to the end). */
  readonly #held = new Map<string, { payload: Payload; until: number }>();
  #keptElsewhere: (grantId: string) => boolean = () => false;

  /** A cache that answers grant reads before the adapter does: what it keeps is not held here. */
  keptElsewhere(check: (grantId: string) => boolean): void {
    this.#keptElsewhere = check;
  }

  /** Whether the grant read with a token is worth holding (and decoding). */
  wants(grantId: string): boolean {
    return !this.#keptElsewhere(grantId);
  }

  hold(grantId: string, payload: Payload): void {
    const now = Date.now();
    for (const [id, held] of this.#held) {
      if (held.until > now) break;
      this.#held.delete(id);
    }
    if (this.#held.size > 10_000) this.#held.clear();
    this.#held.delete(grantId);
    this.#held.set(grantId, { payload, until: now + GrantPrefetch.HOLD_MS });
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

/**
 * Another module's read that rides along with a refresh token's lookup, in the same round trip
 * (the risk engine's state for the refresh being answered).
 */
export interface RefreshTokenCompanionRead {
  /**
   * Select-list expressions over the token row `t` (its columns `account_id`, `grant_id` and
   * `payload`) and `r.input`, the text `input()` gave. Fixed text: the statement is prepared.
   */
  readonly columns: string;
  /** The input for the request being answered; undefined when it has no use for the read. */
  input(): string | undefined;
  /** The row's other columns, when a token was found for a request that gave `input`. */
  deliver(row: Record<string, unknown>, input: string): void;
}

type RefreshTokenRow = Row & { n: string | number; grant_id: string | null; grant_payload: string | null };

interface Rotation {
  /** The successor's upsert parameters (see UPSERT). */
  params: unknown[];
  /** The storage id of the token it replaces. */
  old: string;
}

interface DeferredConsume {
  key: string;
  fallback?: NodeJS.Timeout;
  /** Set once the consume ran on its own (no save came to carry it). */
  alone?: Promise<void>;
}

/**
 * Rotation in one statement: a refresh token's consume waits for the save of the token that
 * replaces it in the same request, and both are done by one statement (consume, then insert only
 * if the consume took). A consume that no save claims within `FALLBACK_MS` runs on its own.
 */
export class DeferredConsumes {
  static readonly FALLBACK_MS = 200;
  readonly #pending: RequestSlot<DeferredConsume>;

  constructor(currentRequest: () => object | undefined) {
    this.#pending = new RequestSlot(currentRequest);
  }

  /** False when there is no request to tie the consume to (the caller consumes at once). */
  defer(key: string, consumeAlone: () => Promise<void>): boolean {
    const request = this.#pending.request();
    const deferred: DeferredConsume = { key };
    if (!this.#pending.put(deferred, request)) return false;
    deferred.fallback = setTimeout(() => {
      if (this.#pending.peek(request) !== deferred) return;
      deferred.alone = consumeAlone();
      // A double consume here has revoked the grant already; the save that may still come rethrows it.
      deferred.alone.catch(() => {});
    }, DeferredConsumes.FALLBACK_MS).unref();
    return true;
  }

  /** The consume waiting in this request, once. */
  take(): DeferredConsume | undefined {
    const deferred = this.#pending.take();
    if (deferred && !deferred.alone) clearTimeout(deferred.fallback);
    return deferred;
  }
}

/** What the SQL adapters share on the refresh path (one per adapter factory). */
export interface RefreshTokenPath {
  grants: GrantPrefetch;
  consumes?: DeferredConsumes;
  companion?: RefreshTokenCompanionRead;
  /** When set, a rotation is waited for when the response is about to leave, not where it is saved. */
  writes?: ResponseWrites;
  /** When set, a refresh token's session is read alongside the token. */
  sessions?: SessionPrefetch;
}

/**
 * The refresh path's two statements (token lookup, rotation), each shared by the requests that
 * reach it in the same turn of the event loop.
 */
class RefreshTokenStatements {
  readonly #sql: Sql;
  readonly #path: RefreshTokenPath;
  readonly lookups: TickBatch<{ key: string; input: string | null }, RefreshTokenRow | undefined>;
  readonly rotations: TickBatch<Rotation, boolean>;

  constructor(sql: Sql, path: RefreshTokenPath) {
    this.#sql = sql;
    this.#path = path;
    this.lookups = new TickBatch((inputs) => this.#lookup(inputs), async (input) => (await this.#lookup([input]))[0]);
    this.rotations = new TickBatch((inputs) => this.#rotate(inputs), async (input) => (await this.#rotate([input]))[0]);
  }

  async #lookup(inputs: { key: string; input: string | null }[]): Promise<(RefreshTokenRow | undefined)[]> {
    const columns = this.#path.companion?.columns;
    const { rows } = await this.#sql.query<RefreshTokenRow>(
      refreshTokenQuery(columns),
      [inputs.map((i) => i.key), inputs.map((i) => i.input)],
      { prepareAs: columns ? 'vigil_oidc_find_refresh_tokens_with_companion' : 'vigil_oidc_find_refresh_tokens' },
    );
    const byOrdinal = new Map(rows.map((row) => [Number(row.n), row]));
    return inputs.map((_, i) => byOrdinal.get(i + 1));
  }

  async #rotate(rotations: Rotation[]): Promise<boolean[]> {
    const column = (i: number) => rotations.map((r) => r.params[i]);
    const { rows } = await this.#sql.query<{ n: string | number }>(
      ROTATE,
      [column(1), column(2), column(3), column(4), column(5), column(6), column(7), column(8), rotations.map((r) => r.old)],
      { prepareAs: 'vigil_oidc_rotate_many' },
    );
    const consumed = new Set(rows.map((row) => Number(row.n)));
    return rotations.map((_, i) => consumed.has(i + 1));
  }
}

/** oidc-provider adapter over Postgres/PGlite: one table, one row per model instance. */
export class SqlAdapter implements Adapter {
  readonly name: string;
  readonly #sql: Sql;
  readonly #codec: PayloadCodec;
  readonly #onDoubleConsume: DoubleConsumeHandler;
  readonly #path: RefreshTokenPath | undefined;
  readonly #statements: RefreshTokenStatements | undefined;

  constructor(name: string, sql: Sql, codec: PayloadCodec, onDoubleConsume: DoubleConsumeHandler, path?: RefreshTokenPath) {
    this.name = name;
    this.#sql = sql;
    this.#codec = codec;
    this.#onDoubleConsume = onDoubleConsume;
    this.#path = path;
    if (path && name === 'RefreshToken') this.#statements = new RefreshTokenStatements(sql, path);
  }

  async upsert(id: string, payload: Payload, expiresIn?: number): Promise<void> {
    if (this.name === 'Grant') this.#path?.grants.forget(id);
    const key = this.#codec.storageId(this.name, id);
    const stored = this.#codec.encode(this.name, id, payload);
    const params = [this.name, key, JSON.stringify(stored), payload.grantId ?? null, payload.uid ?? null, payload.userCode ?? null,
      payload.accountId ?? null, expiresIn ? Math.ceil(expiresIn) : null, typeof payload.clientId === 'string' ? payload.clientId : null];
    if (this.#statements) this.#path!.sessions?.remember(key, payload);
    const consume = this.#statements && this.#path!.consumes?.take();
    if (consume && !consume.alone) {
      const rotated = this.#statements!.rotations.run({ params, old: consume.key }).then(async (took) => {
        if (!took) await this.#doubleConsume(consume.key);
      });
      if (!this.#path!.writes?.defer(rotated, () => this.#sql.query(UNROTATE, [consume.key, key]))) await rotated;
      return;
    }
    if (consume) await consume.alone;
    await this.#sql.query(UPSERT, params, { prepareAs: 'vigil_oidc_upsert' });
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
    if (this.#path && this.name === 'Grant') {
      const held = this.#path.grants.take(id);
      if (held) return held;
    }
    if (this.#statements) return this.#findRefreshTokenWithGrant(id, this.#path!, this.#statements);
    const { rows } = await this.#sql.query<Row>(
      'SELECT payload, consumed_at FROM oidc_payloads WHERE model = $1 AND id = $2 AND (expires_at IS NULL OR expires_at > now())',
      [this.name, this.#codec.storageId(this.name, id)],
      { prepareAs: 'vigil_oidc_find' },
    );
    return this.#decode(id, rows[0]);
  }

  async #findRefreshTokenWithGrant(id: string, path: RefreshTokenPath, statements: RefreshTokenStatements): Promise<Payload | undefined> {
    const input = path.companion?.input();
    const key = this.#codec.storageId(this.name, id);
    path.sessions?.start(key);
    const row = await statements.lookups.run({ key, input: input ?? null });
    if (row?.grant_id && row.grant_payload && path.grants.wants(row.grant_id)) path.grants.hold(row.grant_id, this.#codec.decode('Grant', row.grant_id, JSON.parse(row.grant_payload) as Payload));
    // After the await: in the request's own context again, where the companion keeps what it read.
    if (row && input !== undefined) path.companion!.deliver(row as unknown as Record<string, unknown>, input);
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
    if (this.#statements && this.#path!.consumes?.defer(key, () => this.#consumeNow(key))) return;
    await this.#consumeNow(key);
  }

  async #consumeNow(key: string): Promise<void> {
    const { rowCount } = await this.#sql.query(
      'UPDATE oidc_payloads SET consumed_at = now() WHERE model = $1 AND id = $2 AND consumed_at IS NULL',
      [this.name, key],
      { prepareAs: 'vigil_oidc_consume' },
    );
    if (rowCount === 0) await this.#doubleConsume(key);
  }

  async #doubleConsume(key: string): Promise<never> {
    const { rows } = await this.#sql.query<{ grant_id: string | null }>('SELECT grant_id FROM oidc_payloads WHERE model = $1 AND id = $2', [this.name, key]);
    return this.#onDoubleConsume(this.name, rows[0]?.grant_id ?? undefined);
  }

  async destroy(id: string): Promise<void> {
    if (this.name === 'Grant') this.#path?.grants.forget(id);
    await this.#sql.query('DELETE FROM oidc_payloads WHERE model = $1 AND id = $2', [this.name, this.#codec.storageId(this.name, id)]);
  }

  async revokeByGrantId(grantId: string): Promise<void> {
    await this.#sql.query('DELETE FROM oidc_payloads WHERE model = $1 AND grant_id = $2', [this.name, grantId]);
  }

  async revokeByClientId(clientId: string): Promise<number> {
    // Expired rows not yet purged go too, but only live ones count as ended. Rows stored before
    // migration 033 have no client_id column yet: their own index finds them by the payload's.
    const { rows } = await this.#sql.query<{ n: number }>(
      `WITH gone AS (DELETE FROM oidc_payloads WHERE model = $1
         AND (client_id = $2 OR (client_id IS NULL AND payload ? 'clientId' AND payload->>'clientId' = $2)) RETURNING expires_at)
       SELECT count(*) FILTER (WHERE expires_at IS NULL OR expires_at > now())::int AS n FROM gone`,
      [this.name, clientId],
    );
    return rows[0]?.n ?? 0;
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
