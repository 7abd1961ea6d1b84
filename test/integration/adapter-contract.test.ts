/**
 * Storage adapter contract: the same behaviour is required of every backend oidc-provider models
 * can live in — embedded PGlite, a real Postgres and a real Redis. An unreachable Postgres or Redis
 * fails the suite (beforeAll throws); it is never skipped.
 */
import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import { KeyRing } from '../../src/crypto/index.ts';
import {
  PgliteSql, PostgresSql, SqlAdapter, RedisAdapter, PayloadCodec, connectRedis, migrate,
  type Adapter, type Payload, type Sql,
} from '../../src/store/index.ts';

const POSTGRES_URL = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379/0';
const REDIS_PREFIX = 'vigil:oidc:';

const rid = (bytes = 24) => randomBytes(bytes).toString('base64url');
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
const nowSeconds = () => Math.floor(Date.now() / 1000);

/** A recording double-consume handler: it must throw the error the client is to receive. */
interface DoubleConsumeRecorder {
  (model: string, grantId: string | undefined): Promise<never>;
  calls: Array<[string, string | undefined]>;
}

function doubleConsumeRecorder(): DoubleConsumeRecorder {
  const calls: Array<[string, string | undefined]> = [];
  const handler = async (model: string, grantId: string | undefined): Promise<never> => {
    calls.push([model, grantId]);
    throw new Error('already used');
  };
  return Object.assign(handler, { calls });
}

/** What is physically stored for a model: the storage key and the stored value, as text. */
interface StoredRecord {
  key: string;
  text: string;
}

interface Backend {
  adapter(model: string, onDoubleConsume?: DoubleConsumeRecorder): Adapter;
  /** Every record stored for the model (for Redis: the string keys under the model's prefix). */
  dump(model: string): Promise<StoredRecord[]>;
  close(): Promise<void>;
}

interface BackendSpec {
  name: string;
  open(): Promise<Backend>;
}

function newCodec(): PayloadCodec {
  return new PayloadCodec(new KeyRing(randomBytes(32)));
}

function sqlBackend(sql: Sql, codec: PayloadCodec, cleanup: () => Promise<void>): Backend {
  return {
    adapter: (model, onDoubleConsume = doubleConsumeRecorder()) => new SqlAdapter(model, sql, codec, onDoubleConsume),
    async dump(model) {
      const { rows } = await sql.query<{ id: string; payload: string }>(
        'SELECT id, payload::text AS payload FROM oidc_payloads WHERE model = $1',
        [model],
      );
      return rows.map((row) => ({ key: row.id, text: row.payload }));
    },
    close: cleanup,
  };
}

const pgliteSpec: BackendSpec = {
  name: 'PGlite (in-memory)',
  async open() {
    const sql = await PgliteSql.open(undefined);
    try {
      await migrate(sql);
      // Migrations are applied once: a second run (a restart) applies nothing.
      const again = await migrate(sql);
      if (again.applied.length > 0) throw new Error(`migrate re-applied ${again.applied.join(', ')}`);
    } catch (err) {
      await sql.close();
      throw err;
    }
    return sqlBackend(sql, newCodec(), () => sql.close());
  },
};

const postgresSpec: BackendSpec = {
  name: 'Postgres',
  async open() {
    const schema = `vigil_contract_${randomBytes(6).toString('hex')}`;
    const admin = new PostgresSql(POSTGRES_URL, 1);
    let sql: PostgresSql | undefined;
    try {
      await admin.query(`CREATE SCHEMA ${schema}`);
      const url = new URL(POSTGRES_URL);
      url.searchParams.set('options', `-c search_path=${schema}`);
      sql = new PostgresSql(url.toString(), 5);
      const { rows } = await sql.query<{ schema: string }>('SELECT current_schema() AS schema');
      if (rows[0]?.schema !== schema) throw new Error(`search_path not applied: current_schema() is ${rows[0]?.schema}`);
      await migrate(sql);
      const again = await migrate(sql);
      if (again.applied.length > 0) throw new Error(`migrate re-applied ${again.applied.join(', ')}`);
    } catch (err) {
      await sql?.close().catch(() => {});
      await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`).catch(() => {});
      await admin.close().catch(() => {});
      throw err;
    }
    const pool = sql;
    return sqlBackend(pool, newCodec(), async () => {
      await pool.close();
      try {
        await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
      } finally {
        await admin.close();
      }
    });
  },
};

const redisSpec: BackendSpec = {
  name: 'Redis',
  async open() {
    const redis: Redis = await connectRedis(REDIS_URL, 'vigil-adapter-contract');
    const codec = newCodec();
    // The key prefix is fixed, so every key this run may have created is remembered and deleted.
    const created = new Set<string>();
    const track = (model: string, id: string, payload: Payload) => {
      const key = `${REDIS_PREFIX}${model}:${codec.storageId(model, id)}`;
      created.add(key).add(`${key}:consumed`);
      if (payload.grantId) created.add(`${REDIS_PREFIX}grant:${payload.grantId}`);
      if (payload.accountId) created.add(`${REDIS_PREFIX}account:${payload.accountId}`);
      if (payload.uid) created.add(`${REDIS_PREFIX}${model}:uid:${payload.uid}`);
      if (payload.userCode) created.add(`${REDIS_PREFIX}${model}:userCode:${payload.userCode}`);
    };
    return {
      adapter(model, onDoubleConsume = doubleConsumeRecorder()) {
        const inner = new RedisAdapter(model, redis, codec, onDoubleConsume);
        return {
          upsert(id, payload, expiresIn) {
            track(model, id, payload);
            return inner.upsert(id, payload, expiresIn);
          },
          find: (id) => inner.find(id),
          findByUid: (uid) => inner.findByUid(uid),
          findByUserCode: (userCode) => inner.findByUserCode(userCode),
          consume: (id) => inner.consume(id),
          destroy: (id) => inner.destroy(id),
          revokeByGrantId: (grantId) => inner.revokeByGrantId(grantId),
          revokeByClientId: (clientId) => inner.revokeByClientId(clientId),
          destroyByAccountId: (accountId) => inner.destroyByAccountId(accountId),
          findByAccountId: (accountId) => inner.findByAccountId(accountId),
        };
      },
      async dump(model) {
        const keys = await redis.keys(`${REDIS_PREFIX}${model}:*`);
        if (keys.length === 0) return [];
        // MGET answers nil for keys that do not hold a string.
        const values = await redis.mget(...keys);
        return keys.map((key, i) => ({ key, text: values[i] ?? '' }));
      },
      async close() {
        try {
          if (created.size > 0) await redis.del(...created);
        } finally {
          await redis.quit();
        }
      },
    };
  },
};

/** A refresh-token-like payload, as oidc-provider writes it. */
function tokenPayload(model: string, id: string, extra: Partial<Payload> = {}): Payload {
  const iat = nowSeconds();
  return {
    iat,
    exp: iat + 3600,
    jti: id,
    kind: model,
    accountId: `acct-${rid(6)}`,
    clientId: `client-${rid(6)}`,
    grantId: `grant-${rid(12)}`,
    scope: 'openid offline_access',
    resource: ['https://api.example.test/'],
    claims: { id_token: { email: null }, userinfo: { name: { essential: true } } },
    rotations: 0,
    sessionUid: rid(12),
    authTime: iat - 10,
    extra: { 'ünïcode': '✓ ö 日本', nested: [1, 'two', { three: true }], nothing: null },
    ...extra,
  };
}

/** What find() must answer for a stored payload: hashed models get their id back as jti. */
function expected(model: string, id: string, payload: Payload): Payload {
  const hashed = new PayloadCodec(new KeyRing(randomBytes(32))).storageId(model, id) !== id;
  return hashed ? { ...payload, jti: id } : { ...payload };
}

describe.each<BackendSpec>([pgliteSpec, postgresSpec, redisSpec])('storage adapter contract: $name', (spec) => {
  let backend: Backend;

  beforeAll(async () => {
    backend = await spec.open();
  });

  afterAll(async () => {
    await backend?.close();
  });

  describe('upsert and find', () => {
    it.each(['Session', 'Grant', 'Interaction'])('%s: a payload round-trips unchanged', async (model) => {
      const adapter = backend.adapter(model);
      const id = rid();
      const payload = tokenPayload(model, id, { uid: rid(12) });
      await adapter.upsert(id, payload, 600);
      await expect(adapter.find(id)).resolves.toEqual(payload);
    });

    it.each(['RefreshToken', 'AccessToken', 'AuthorizationCode', 'DeviceCode'])('%s (hashed): a payload round-trips, jti re-added', async (model) => {
      const adapter = backend.adapter(model);
      const id = rid(32);
      const payload = tokenPayload(model, id);
      const { jti: _omitted, ...withoutJti } = payload;
      await adapter.upsert(id, payload, 600);
      await expect(adapter.find(id)).resolves.toEqual({ ...withoutJti, jti: id });
      // Stored without jti, found with it.
      const other = rid(32);
      await adapter.upsert(other, withoutJti, 600);
      await expect(adapter.find(other)).resolves.toEqual({ ...withoutJti, jti: other });
    });

    it('a payload without expiry round-trips', async () => {
      const adapter = backend.adapter('Grant');
      const id = rid();
      const payload = tokenPayload('Grant', id);
      await adapter.upsert(id, payload);
      await expect(adapter.find(id)).resolves.toEqual(payload);
    });

    it.each(['Session', 'RefreshToken'])('%s: find of an unknown id is undefined', async (model) => {
      const adapter = backend.adapter(model);
      await expect(adapter.find(rid())).resolves.toBeUndefined();
    });

    it('the same id under another model is a different record', async () => {
      const id = rid();
      const payload = tokenPayload('Session', id);
      await backend.adapter('Session').upsert(id, payload, 600);
      await expect(backend.adapter('Interaction').find(id)).resolves.toBeUndefined();
    });

    it.each(['Session', 'RefreshToken'])('%s: upsert overwrites the record', async (model) => {
      const adapter = backend.adapter(model);
      const id = rid();
      const first = tokenPayload(model, id, { scope: 'openid', rotations: 0 });
      const second = tokenPayload(model, id, { scope: 'openid email', rotations: 1, grantId: `grant-${rid(12)}` });
      delete second.claims;
      await adapter.upsert(id, first, 600);
      await adapter.upsert(id, second, 600);
      await expect(adapter.find(id)).resolves.toEqual(expected(model, id, second));
    });
  });

  describe('secondary lookups', () => {
    it('findByUid finds a Session by its uid', async () => {
      const adapter = backend.adapter('Session');
      const id = rid();
      const uid = rid(16);
      const payload = tokenPayload('Session', id, { uid });
      await adapter.upsert(id, payload, 600);
      await expect(adapter.findByUid(uid)).resolves.toEqual(payload);
      await expect(adapter.findByUid(rid(16))).resolves.toBeUndefined();
    });

    it('findByUid follows an overwrite of the record', async () => {
      const adapter = backend.adapter('Session');
      const id = rid();
      const uid = rid(16);
      await adapter.upsert(id, tokenPayload('Session', id, { uid, scope: 'openid' }), 600);
      const updated = tokenPayload('Session', id, { uid, scope: 'openid profile' });
      await adapter.upsert(id, updated, 600);
      await expect(adapter.findByUid(uid)).resolves.toEqual(updated);
    });

    it('findByUid does not find a destroyed record', async () => {
      const adapter = backend.adapter('Session');
      const id = rid();
      const uid = rid(16);
      await adapter.upsert(id, tokenPayload('Session', id, { uid }), 600);
      await adapter.destroy(id);
      await expect(adapter.findByUid(uid)).resolves.toBeUndefined();
    });

    it('findByUserCode finds a DeviceCode by its user code, with its jti', async () => {
      const adapter = backend.adapter('DeviceCode');
      const id = rid(32);
      const userCode = `${rid(4)}-${rid(4)}`.toUpperCase();
      const payload = tokenPayload('DeviceCode', id, { userCode });
      await adapter.upsert(id, payload, 600);
      const found = await adapter.findByUserCode(userCode);
      // oidc-provider consumes and re-saves the DeviceCode under found.jti: it must be the code itself.
      expect(found).toEqual({ ...payload, jti: id });
      await expect(adapter.findByUserCode(`${rid(4)}-${rid(4)}`)).resolves.toBeUndefined();
    });

    it('a DeviceCode found by user code can be consumed and updated through its jti', async () => {
      const adapter = backend.adapter('DeviceCode');
      const id = rid(32);
      const userCode = rid(8).toUpperCase();
      await adapter.upsert(id, tokenPayload('DeviceCode', id, { userCode }), 600);
      const found = await adapter.findByUserCode(userCode);
      expect(found?.jti).toBe(id);
      await adapter.upsert(found!.jti!, { ...found!, accountId: 'approved-account' }, 600);
      await adapter.consume(found!.jti!);
      const polled = await adapter.find(id);
      expect(polled?.accountId).toBe('approved-account');
      expect(typeof polled?.consumed).toBe('number');
    });
  });

  describe('consume', () => {
    it.each(['RefreshToken', 'AuthorizationCode', 'DeviceCode'])('%s: consume marks the record consumed (epoch seconds)', async (model) => {
      const adapter = backend.adapter(model);
      const id = rid(32);
      const payload = tokenPayload(model, id);
      await adapter.upsert(id, payload, 600);
      const before = await adapter.find(id);
      expect(before?.consumed).toBeUndefined();
      const t0 = nowSeconds();
      await adapter.consume(id);
      const t1 = nowSeconds();
      const after = await adapter.find(id);
      expect(typeof after?.consumed).toBe('number');
      expect(Number.isInteger(after!.consumed)).toBe(true);
      expect(after!.consumed).toBeGreaterThanOrEqual(t0 - 2);
      expect(after!.consumed).toBeLessThanOrEqual(t1 + 2);
      const { consumed: _c, ...rest } = after!;
      expect(rest).toEqual(expected(model, id, payload));
    });

    it('a second consume calls onDoubleConsume(model, grantId) and rejects', async () => {
      const onDoubleConsume = doubleConsumeRecorder();
      const adapter = backend.adapter('RefreshToken', onDoubleConsume);
      const id = rid(32);
      const payload = tokenPayload('RefreshToken', id);
      await adapter.upsert(id, payload, 600);
      await adapter.consume(id);
      expect(onDoubleConsume.calls).toEqual([]);
      const first = (await adapter.find(id))?.consumed;
      await expect(adapter.consume(id)).rejects.toThrow('already used');
      expect(onDoubleConsume.calls).toEqual([['RefreshToken', payload.grantId]]);
      // The first consumption stands.
      expect((await adapter.find(id))?.consumed).toBe(first);
    });

    it('consume is atomic: of 20 concurrent consumes exactly one wins', async () => {
      const onDoubleConsume = doubleConsumeRecorder();
      const adapter = backend.adapter('AuthorizationCode', onDoubleConsume);
      const id = rid(32);
      const payload = tokenPayload('AuthorizationCode', id);
      await adapter.upsert(id, payload, 600);
      const results = await Promise.allSettled(Array.from({ length: 20 }, () => adapter.consume(id)));
      const fulfilled = results.filter((r) => r.status === 'fulfilled');
      const rejected = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
      expect(fulfilled).toHaveLength(1);
      expect(rejected).toHaveLength(19);
      for (const r of rejected) expect((r.reason as Error).message).toBe('already used');
      expect(onDoubleConsume.calls).toHaveLength(19);
      for (const call of onDoubleConsume.calls) expect(call).toEqual(['AuthorizationCode', payload.grantId]);
      expect(typeof (await adapter.find(id))?.consumed).toBe('number');
    });
  });

  describe('destroy and revokeByGrantId', () => {
    it.each(['Session', 'RefreshToken'])('%s: destroy removes the record', async (model) => {
      const adapter = backend.adapter(model);
      const id = rid();
      const keep = rid();
      await adapter.upsert(id, tokenPayload(model, id), 600);
      await adapter.upsert(keep, tokenPayload(model, keep), 600);
      await adapter.destroy(id);
      await expect(adapter.find(id)).resolves.toBeUndefined();
      await expect(adapter.find(keep)).resolves.toBeDefined();
      // Destroying what is not there is not an error.
      await expect(adapter.destroy(rid())).resolves.toBeUndefined();
    });

    it('destroy also forgets consumption: a record re-created under the id is unconsumed', async () => {
      const adapter = backend.adapter('RefreshToken');
      const id = rid(32);
      await adapter.upsert(id, tokenPayload('RefreshToken', id), 600);
      await adapter.consume(id);
      await adapter.destroy(id);
      await adapter.upsert(id, tokenPayload('RefreshToken', id), 600);
      expect((await adapter.find(id))?.consumed).toBeUndefined();
    });

    it('revokeByGrantId removes every record of the grant for the model, and nothing else', async () => {
      const refreshTokens = backend.adapter('RefreshToken');
      const accessTokens = backend.adapter('AccessToken');
      const grantId = `grant-${rid(12)}`;
      const otherGrant = `grant-${rid(12)}`;
      const revoked = [rid(32), rid(32), rid(32)];
      for (const id of revoked) await refreshTokens.upsert(id, tokenPayload('RefreshToken', id, { grantId }), 600);
      await refreshTokens.consume(revoked[0]!);
      const otherGrantToken = rid(32);
      await refreshTokens.upsert(otherGrantToken, tokenPayload('RefreshToken', otherGrantToken, { grantId: otherGrant }), 600);
      const sameGrantOtherModel = rid(32);
      await accessTokens.upsert(sameGrantOtherModel, tokenPayload('AccessToken', sameGrantOtherModel, { grantId }), 600);

      await refreshTokens.revokeByGrantId(grantId);

      for (const id of revoked) await expect(refreshTokens.find(id)).resolves.toBeUndefined();
      await expect(refreshTokens.find(otherGrantToken)).resolves.toMatchObject({ grantId: otherGrant, jti: otherGrantToken });
      await expect(accessTokens.find(sameGrantOtherModel)).resolves.toMatchObject({ grantId, jti: sameGrantOtherModel });
      // Revoking a grant with no records is not an error.
      await expect(refreshTokens.revokeByGrantId(`grant-${rid(12)}`)).resolves.toBeUndefined();
    });

    it('revokeByClientId removes every record of the model issued to the client (consumed ones too), and nothing else; it says how many', async () => {
      const tokens = backend.adapter('ClientCredentials');
      const clientId = `client-${rid(8)}`;
      const theirs = [rid(32), rid(32), rid(32)];
      for (const id of theirs) await tokens.upsert(id, tokenPayload('ClientCredentials', id, { clientId }), 600);
      const another = rid(32);
      await tokens.upsert(another, tokenPayload('ClientCredentials', another, { clientId: `client-${rid(8)}` }), 600);
      const refreshTokens = backend.adapter('RefreshToken');
      const sameClientOtherModel = rid(32);
      await refreshTokens.upsert(sameClientOtherModel, tokenPayload('RefreshToken', sameClientOtherModel, { clientId }), 600);
      await refreshTokens.consume(sameClientOtherModel);

      await expect(tokens.revokeByClientId(clientId)).resolves.toBe(theirs.length);

      for (const id of theirs) await expect(tokens.find(id)).resolves.toBeUndefined();
      await expect(tokens.find(another)).resolves.toMatchObject({ jti: another });
      await expect(refreshTokens.find(sameClientOtherModel)).resolves.toMatchObject({ clientId });
      await expect(refreshTokens.revokeByClientId(clientId)).resolves.toBe(1);
      await expect(refreshTokens.find(sameClientOtherModel)).resolves.toBeUndefined();
      // Upserted again under the same id, the record is not still consumed.
      await refreshTokens.upsert(sameClientOtherModel, tokenPayload('RefreshToken', sameClientOtherModel, { clientId }), 600);
      expect((await refreshTokens.find(sameClientOtherModel))?.consumed).toBeUndefined();
      await expect(tokens.revokeByClientId(`client-${rid(8)}`)).resolves.toBe(0);
    });

    it('findByAccountId lists and destroyByAccountId removes the account\'s records of the model, and nothing else', async () => {
      const sessions = backend.adapter('Session');
      const grants = backend.adapter('Grant');
      const accountId = `acct-${rid(12)}`;
      const mine = [rid(), rid()];
      for (const id of mine) await sessions.upsert(id, { jti: id, uid: rid(), accountId, kind: 'Session' }, 600);
      const someoneElse = rid();
      await sessions.upsert(someoneElse, { jti: someoneElse, uid: rid(), accountId: `acct-${rid(12)}`, kind: 'Session' }, 600);
      const grant = rid();
      await grants.upsert(grant, { jti: grant, accountId, kind: 'Grant' }, 600);

      expect((await sessions.findByAccountId(accountId)).map((p) => p.jti).sort()).toEqual([...mine].sort());
      await sessions.destroyByAccountId(accountId);
      await expect(sessions.findByAccountId(accountId)).resolves.toEqual([]);

      for (const id of mine) await expect(sessions.find(id)).resolves.toBeUndefined();
      await expect(sessions.find(someoneElse)).resolves.toMatchObject({ jti: someoneElse });
      await expect(grants.find(grant)).resolves.toMatchObject({ accountId });
      await expect(sessions.destroyByAccountId(`acct-${rid(12)}`)).resolves.toBeUndefined();
    });
  });

  describe('expiry', () => {
    it('a record upserted with expiresIn=1 is gone after it expires', async () => {
      const adapter = backend.adapter('Session');
      const id = rid();
      const uid = rid(16);
      const payload = tokenPayload('Session', id, { uid });
      await adapter.upsert(id, payload, 1);
      await expect(adapter.find(id)).resolves.toEqual(payload);
      await sleep(2200);
      await expect(adapter.find(id)).resolves.toBeUndefined();
      await expect(adapter.findByUid(uid)).resolves.toBeUndefined();
    });

    it('a hashed record upserted with expiresIn=1 is gone after it expires', async () => {
      const adapter = backend.adapter('RefreshToken');
      const id = rid(32);
      await adapter.upsert(id, tokenPayload('RefreshToken', id), 1);
      await expect(adapter.find(id)).resolves.toBeDefined();
      await sleep(2200);
      await expect(adapter.find(id)).resolves.toBeUndefined();
    });
  });

  describe('data at rest', () => {
    it.each(['RefreshToken', 'AuthorizationCode', 'AccessToken'])('%s: the token value (its id) is not stored, only a hash', async (model) => {
      const adapter = backend.adapter(model);
      const id = rid(32);
      await adapter.upsert(id, tokenPayload(model, id), 600);
      await expect(adapter.find(id)).resolves.toMatchObject({ jti: id });
      const stored = await backend.dump(model);
      expect(stored.length).toBeGreaterThan(0);
      for (const record of stored) {
        expect(record.key).not.toContain(id);
        expect(record.text).not.toContain(id);
      }
    });

    it('DeviceCode: neither the record nor its user-code index stores the device code in the clear', async () => {
      const adapter = backend.adapter('DeviceCode');
      const id = rid(32);
      const userCode = rid(8).toUpperCase();
      await adapter.upsert(id, tokenPayload('DeviceCode', id, { userCode }), 600);
      await expect(adapter.findByUserCode(userCode)).resolves.toMatchObject({ jti: id, userCode });
      const stored = await backend.dump('DeviceCode');
      expect(stored.some((record) => record.text.includes(userCode) || record.key.includes(userCode))).toBe(true);
      for (const record of stored) {
        expect(record.key).not.toContain(id);
        expect(record.text).not.toContain(id);
      }
    });

    it('Client: client_secret is sealed at rest, and find returns it in the clear', async () => {
      const adapter = backend.adapter('Client');
      const clientId = `client-${rid(8)}`;
      const secret = rid(32);
      const metadata: Payload = {
        client_id: clientId,
        client_secret: secret,
        client_secret_expires_at: 0,
        redirect_uris: ['https://rp.example.test/cb'],
        grant_types: ['authorization_code', 'refresh_token'],
        token_endpoint_auth_method: 'client_secret_basic',
      };
      await adapter.upsert(clientId, metadata);
      await expect(adapter.find(clientId)).resolves.toEqual(metadata);
      const stored = (await backend.dump('Client')).filter((record) => record.text.includes(clientId));
      expect(stored).toHaveLength(1);
      expect(stored[0]!.text).not.toContain(secret);
    });
  });
});

describe('SQL: the client of each row (migration 033)', () => {
  let sql: PgliteSql;

  beforeAll(async () => {
    sql = await PgliteSql.open(undefined);
    await migrate(sql);
  });

  afterAll(() => sql?.close());

  it('is stored in a column of its own; revokeByClientId finds by it, and rows stored before the column by their payload', async () => {
    const codec = newCodec();
    const tokens = new SqlAdapter('RefreshToken', sql, codec, doubleConsumeRecorder());
    const clientId = `client-${rid(8)}`;
    const [older, newer, another] = [rid(32), rid(32), rid(32)];
    await tokens.upsert(older, tokenPayload('RefreshToken', older, { clientId }), 600);
    await tokens.upsert(newer, tokenPayload('RefreshToken', newer, { clientId }), 600);
    await tokens.upsert(another, tokenPayload('RefreshToken', another, { clientId: `client-${rid(8)}` }), 600);
    const { rows } = await sql.query<{ client_id: string | null; in_payload: string }>(
      "SELECT client_id, payload->>'clientId' AS in_payload FROM oidc_payloads WHERE model = 'RefreshToken'");
    expect(rows).toHaveLength(3);
    for (const row of rows) expect(row.client_id).toBe(row.in_payload);
    // As a row written before migration 033 is: no client_id.
    await sql.query("UPDATE oidc_payloads SET client_id = NULL WHERE model = 'RefreshToken' AND id = $1", [codec.storageId('RefreshToken', older)]);

    await expect(tokens.revokeByClientId(clientId)).resolves.toBe(2);
    await expect(tokens.find(older)).resolves.toBeUndefined();
    await expect(tokens.find(newer)).resolves.toBeUndefined();
    await expect(tokens.find(another)).resolves.toMatchObject({ jti: another });
  });
});
