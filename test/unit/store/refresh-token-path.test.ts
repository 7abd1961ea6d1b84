/**
 * The refresh path of the SQL adapter, in as few round trips as it can:
 * - a refresh reads its refresh token and then its grant: both come in one query, and the grant is
 *   held for the read that follows, once, for a second at most (changed or destroyed: read fresh);
 * - another module's read rides along with the token's lookup (the risk engine's state);
 * - rotation: the old token's consume waits for its successor's save in the same request, and one
 *   statement does both, storing the successor only if the consume took.
 */
import { randomBytes } from 'node:crypto';
import { DeferredConsumes, GrantPrefetch, migrate, PgliteSql, PayloadCodec, SqlAdapter, type RefreshTokenCompanionRead } from '../../../src/store/index.ts';
import { KeyRing } from '../../../src/crypto/index.ts';

let sql: PgliteSql;
let codec: PayloadCodec;
let tokens: SqlAdapter;
let grants: SqlAdapter;
const noDoubleConsume = async (): Promise<never> => { throw new Error('consumed twice'); };

beforeAll(async () => {
  sql = await PgliteSql.open(undefined);
  await migrate(sql);
  codec = new PayloadCodec(new KeyRing(randomBytes(32)));
  const path = { grants: new GrantPrefetch() };
  tokens = new SqlAdapter('RefreshToken', sql, codec, noDoubleConsume, path);
  grants = new SqlAdapter('Grant', sql, codec, noDoubleConsume, path);
}, 30_000);

afterAll(() => sql?.close());

const rid = () => randomBytes(12).toString('base64url');

async function tokenWithGrant() {
  const grantId = rid();
  const tokenId = rid();
  await grants.upsert(grantId, { jti: grantId, kind: 'Grant', accountId: 'acct', clientId: 'web', openid: { scope: 'openid' } }, 600);
  await tokens.upsert(tokenId, { jti: tokenId, kind: 'RefreshToken', grantId, accountId: 'acct', clientId: 'web' }, 600);
  return { grantId, tokenId };
}

test('the grant comes with its refresh token: the next grant read needs no query, and only that one', async () => {
  const { grantId, tokenId } = await tokenWithGrant();
  expect(await tokens.find(tokenId)).toMatchObject({ jti: tokenId, grantId });
  // Gone from the table behind the adapter's back: the held copy answers once, then the table does.
  await sql.query("DELETE FROM oidc_payloads WHERE model = 'Grant' AND id = $1", [grantId]);
  expect(await grants.find(grantId)).toMatchObject({ jti: grantId, clientId: 'web' });
  expect(await grants.find(grantId)).toBeUndefined();
});

test('a grant destroyed or changed through the adapter after the token read is read fresh', async () => {
  const destroyed = await tokenWithGrant();
  await tokens.find(destroyed.tokenId);
  await grants.destroy(destroyed.grantId);
  expect(await grants.find(destroyed.grantId)).toBeUndefined();

  const changed = await tokenWithGrant();
  await tokens.find(changed.tokenId);
  await grants.upsert(changed.grantId, { jti: changed.grantId, kind: 'Grant', accountId: 'acct', clientId: 'web', openid: { scope: 'openid email' } }, 600);
  expect(await grants.find(changed.grantId)).toMatchObject({ openid: { scope: 'openid email' } });
});

test('a held grant is not used after a second', async () => {
  const { grantId, tokenId } = await tokenWithGrant();
  const realNow = Date.now;
  await tokens.find(tokenId);
  await sql.query("DELETE FROM oidc_payloads WHERE model = 'Grant' AND id = $1", [grantId]);
  Date.now = () => realNow() + 1500;
  try {
    expect(await grants.find(grantId)).toBeUndefined();
  } finally {
    Date.now = realNow;
  }
});

test('a refresh token without a grant, or an unknown one, holds nothing', async () => {
  const tokenId = rid();
  await tokens.upsert(tokenId, { jti: tokenId, kind: 'RefreshToken', accountId: 'acct', clientId: 'web' }, 600);
  expect(await tokens.find(tokenId)).toMatchObject({ jti: tokenId });
  expect(await tokens.find(rid())).toBeUndefined();
});

describe('rotation in one statement', () => {
  let request: object | undefined;
  let doubleConsumes: (string | undefined)[];
  let rotating: SqlAdapter;
  let queries: string[];

  beforeEach(() => {
    request = {};
    doubleConsumes = [];
    queries = [];
    const counted = { ...sql, kind: sql.kind, query: (text: string, params?: unknown[]) => { queries.push(text); return sql.query(text, params); } } as unknown as PgliteSql;
    const onDoubleConsume = async (_model: string, grantId: string | undefined): Promise<never> => {
      doubleConsumes.push(grantId);
      throw new Error('refresh token already used');
    };
    rotating = new SqlAdapter('RefreshToken', counted, codec, onDoubleConsume, { grants: new GrantPrefetch(), consumes: new DeferredConsumes(() => request) });
  });

  const stored = async (id: string) => (await sql.query<{ consumed: boolean }>(
    "SELECT consumed_at IS NOT NULL AS consumed FROM oidc_payloads WHERE model = 'RefreshToken' AND id = $1", [codec.storageId('RefreshToken', id)])).rows[0];
  const token = (grantId: string) => ({ jti: rid(), kind: 'RefreshToken', grantId, accountId: 'acct', clientId: 'web' });

  test('the consume and the successor are one statement', async () => {
    const grantId = rid();
    const old = token(grantId);
    await rotating.upsert(old.jti, old, 600);
    queries = [];
    await rotating.consume(old.jti);
    expect(queries).toHaveLength(0);
    expect(await stored(old.jti)).toEqual({ consumed: false });
    const next = token(grantId);
    await rotating.upsert(next.jti, next, 600);
    expect(queries).toHaveLength(1);
    expect(await stored(old.jti)).toEqual({ consumed: true });
    expect(await stored(next.jti)).toEqual({ consumed: false });
  });

  test('a token consumed already: the successor is not stored and the double consume is reported with the grant', async () => {
    const grantId = rid();
    const old = token(grantId);
    await rotating.upsert(old.jti, old, 600);
    await sql.query("UPDATE oidc_payloads SET consumed_at = now() WHERE model = 'RefreshToken' AND id = $1", [codec.storageId('RefreshToken', old.jti)]);
    await rotating.consume(old.jti);
    const next = token(grantId);
    await expect(rotating.upsert(next.jti, next, 600)).rejects.toThrow('refresh token already used');
    expect(doubleConsumes).toEqual([grantId]);
    expect(await stored(next.jti)).toBeUndefined();
  });

  test('two requests racing with one token: one successor is stored, the other request is refused', async () => {
    const grantId = rid();
    const old = token(grantId);
    await rotating.upsert(old.jti, old, 600);
    const first = {};
    const second = {};
    request = first;
    await rotating.consume(old.jti);
    request = second;
    await rotating.consume(old.jti);
    const [a, b] = [token(grantId), token(grantId)];
    request = first;
    const saveA = rotating.upsert(a.jti, a, 600);
    request = second;
    const saveB = rotating.upsert(b.jti, b, 600);
    const results = await Promise.allSettled([saveA, saveB]);
    expect(results.map((r) => r.status).sort()).toEqual(['fulfilled', 'rejected']);
    expect([await stored(a.jti), await stored(b.jti)].filter(Boolean)).toHaveLength(1);
  });

  test('rotations of several requests in the same turn are one statement', async () => {
    const olds = [token(rid()), token(rid()), token(rid())];
    for (const old of olds) await rotating.upsert(old.jti, old, 600);
    const requests = olds.map(() => ({}));
    for (const [i, old] of olds.entries()) {
      request = requests[i];
      await rotating.consume(old.jti);
    }
    queries = [];
    const successors = olds.map((old) => token(old.grantId));
    const saves = successors.map((next, i) => {
      request = requests[i];
      return rotating.upsert(next.jti, next, 600);
    });
    await Promise.all(saves);
    expect(queries).toHaveLength(1);
    for (const old of olds) expect(await stored(old.jti)).toEqual({ consumed: true });
    for (const next of successors) expect(await stored(next.jti)).toEqual({ consumed: false });
  });

  test('lookups of several requests in the same turn are one statement, each with its own answer', async () => {
    const a = token(rid());
    const b = token(rid());
    await rotating.upsert(a.jti, a, 600);
    await rotating.upsert(b.jti, b, 600);
    queries = [];
    const found = await Promise.all([rotating.find(a.jti), rotating.find(rid()), rotating.find(b.jti)]);
    expect(queries).toHaveLength(1);
    expect(found).toEqual([expect.objectContaining({ jti: a.jti, grantId: a.grantId }), undefined, expect.objectContaining({ jti: b.jti, grantId: b.grantId })]);
  });

  test('a consume no save claims runs on its own', async () => {
    const old = token(rid());
    await rotating.upsert(old.jti, old, 600);
    await rotating.consume(old.jti);
    expect(await stored(old.jti)).toEqual({ consumed: false });
    await new Promise((resolve) => setTimeout(resolve, DeferredConsumes.FALLBACK_MS + 100));
    expect(await stored(old.jti)).toEqual({ consumed: true });
    // The save that comes after all stores the successor plainly.
    const next = token(old.grantId);
    await rotating.upsert(next.jti, next, 600);
    expect(await stored(next.jti)).toEqual({ consumed: false });
  });

  test('outside a request the consume is done at once', async () => {
    request = undefined;
    const old = token(rid());
    await rotating.upsert(old.jti, old, 600);
    await rotating.consume(old.jti);
    expect(await stored(old.jti)).toEqual({ consumed: true });
    await expect(rotating.consume(old.jti)).rejects.toThrow('refresh token already used');
  });
});

test('a companion read comes back with the refresh token, from the token row and its own parameters', async () => {
  const delivered: Record<string, unknown>[] = [];
  let input: string | undefined = 'from the request';
  const companion: RefreshTokenCompanionRead = {
    columns: 't.account_id AS companion_account, r.input AS companion_param',
    input: () => input,
    deliver: (row) => delivered.push(row),
  };
  const withCompanion = new SqlAdapter('RefreshToken', sql, codec, noDoubleConsume, { grants: new GrantPrefetch(), companion });
  const { tokenId } = await tokenWithGrant();
  expect(await withCompanion.find(tokenId)).toMatchObject({ jti: tokenId });
  expect(delivered).toEqual([expect.objectContaining({ companion_account: 'acct', companion_param: 'from the request' })]);
  input = undefined;
  expect(await withCompanion.find(tokenId)).toMatchObject({ jti: tokenId });
  expect(await withCompanion.find(rid())).toBeUndefined();
  expect(delivered).toHaveLength(1);
});
