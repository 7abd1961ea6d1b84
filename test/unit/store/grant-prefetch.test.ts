/**
 * A refresh reads its refresh token and then its grant: the SQL adapter reads both in one query
 * and holds the grant for the read that follows, once, for a second at most. A grant changed or
 * destroyed through the adapter in between is read fresh.
 */
import { randomBytes } from 'node:crypto';
import { GrantPrefetch, migrate, PgliteSql, PayloadCodec, SqlAdapter } from '../../../src/store/index.ts';
import { KeyRing } from '../../../src/crypto/index.ts';

let sql: PgliteSql;
let tokens: SqlAdapter;
let grants: SqlAdapter;
const noDoubleConsume = async (): Promise<never> => { throw new Error('consumed twice'); };

beforeAll(async () => {
  sql = await PgliteSql.open(undefined);
  await migrate(sql);
  const codec = new PayloadCodec(new KeyRing(randomBytes(32)));
  const prefetch = new GrantPrefetch();
  tokens = new SqlAdapter('RefreshToken', sql, codec, noDoubleConsume, prefetch);
  grants = new SqlAdapter('Grant', sql, codec, noDoubleConsume, prefetch);
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
