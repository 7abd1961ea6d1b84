/**
 * What a token response waits for, and when (the adapter factory inside a request):
 * - the refresh token's rotation and the access token's save are started where oidc-provider saves
 *   them and waited for once, by `settle`, just before the response leaves; a failure there (a
 *   refresh token used twice, a store that failed) is what the request answers;
 * - the session a stored refresh token expires with is read alongside the token's next lookup, and
 *   that read serves the session lookup that follows in the same request only.
 */
import { randomBytes } from 'node:crypto';
import {
  createAdapterFactory, migrate, PgliteSql, PayloadCodec, ResponseWrites, SessionPrefetch, type AdapterFactory, type Payload,
} from '../../../src/store/index.ts';
import { KeyRing } from '../../../src/crypto/index.ts';

let sql: PgliteSql;
let codec: PayloadCodec;
let request: object | undefined;
let queries: string[];
let failWith: RegExp | undefined;
let doubleConsumes: (string | undefined)[];
let adapters: AdapterFactory;

beforeAll(async () => {
  sql = await PgliteSql.open(undefined);
  await migrate(sql);
  codec = new PayloadCodec(new KeyRing(randomBytes(32)));
}, 30_000);

afterAll(() => sql?.close());

beforeEach(() => {
  request = undefined;
  queries = [];
  failWith = undefined;
  doubleConsumes = [];
  const counted = {
    kind: sql.kind,
    query: async (text: string, params?: unknown[]) => {
      queries.push(text);
      if (failWith?.test(text)) throw new Error('the store is down');
      return sql.query(text, params);
    },
  } as unknown as PgliteSql;
  adapters = createAdapterFactory({
    sql: counted,
    codec,
    currentRequest: () => request,
    async onDoubleConsume(_model, grantId) {
      doubleConsumes.push(grantId);
      throw new Error('refresh token already used');
    },
  });
});

const rid = () => randomBytes(12).toString('base64url');
const refreshToken = (grantId: string, extra: Payload = {}): Payload => ({ jti: rid(), kind: 'RefreshToken', grantId, accountId: 'acct', clientId: 'web', ...extra });
const consumed = async (id: string) => (await sql.query<{ consumed: boolean }>(
  "SELECT consumed_at IS NOT NULL AS consumed FROM oidc_payloads WHERE model = 'RefreshToken' AND id = $1", [codec.storageId('RefreshToken', id)])).rows[0];

/** A refresh token of a grant of its own, stored. */
async function storedRefreshToken(extra: Payload = {}): Promise<Payload> {
  const token = refreshToken(rid(), extra);
  await adapters('RefreshToken').upsert(token.jti as string, token, 600);
  return token;
}

/** An access token (of `grantId`'s grant, if given), saved in the current request. */
async function savedAccessToken(grantId?: string): Promise<Payload> {
  const token: Payload = { jti: rid(), kind: 'AccessToken', ...(grantId === undefined ? {} : { grantId }), accountId: 'acct', clientId: 'web' };
  await adapters('AccessToken').upsert(token.jti as string, token, 300);
  return token;
}

/** A refresh in `req`: the old token's consume, then its successor's save (as oidc-provider does). */
async function rotate(req: object, old: Payload, next: Payload): Promise<void> {
  request = req;
  await adapters('RefreshToken').consume(old.jti as string);
  await adapters('RefreshToken').upsert(next.jti as string, next, 600);
}

/** A stored refresh token rotated in a request of its own (the request not settled yet). */
async function rotatedInARequest(): Promise<{ old: Payload; next: Payload; req: object }> {
  const old = await storedRefreshToken();
  const req = {};
  const next = refreshToken(old.grantId as string);
  await rotate(req, old, next);
  return { old, next, req };
}

describe('writes waited for before the response leaves', () => {
  test('a rotation and an access token saved in a request are both stored once the request settles', async () => {
    const { old, next, req } = await rotatedInARequest();
    const accessToken = await savedAccessToken(old.grantId);
    expect(await adapters.settle(req)).toBeUndefined();
    expect(await consumed(old.jti as string)).toEqual({ consumed: true });
    expect(await consumed(next.jti as string)).toEqual({ consumed: false });
    request = undefined;
    expect(await adapters('AccessToken').find(accessToken.jti as string)).toMatchObject({ jti: accessToken.jti, grantId: old.grantId });
    // Settled once: nothing is left to wait for.
    expect(await adapters.settle(req)).toBeUndefined();
  });

  test('a refresh token used twice: the save returns, and settling reports the double consume (the successor is not stored)', async () => {
    const old = await storedRefreshToken();
    await sql.query("UPDATE oidc_payloads SET consumed_at = now() WHERE model = 'RefreshToken' AND id = $1", [codec.storageId('RefreshToken', old.jti as string)]);
    const req = {};
    const next = refreshToken(old.grantId as string);
    await expect(rotate(req, old, next)).resolves.toBeUndefined();
    const failed = await adapters.settle(req);
    expect(failed?.failure?.error).toEqual(new Error('refresh token already used'));
    expect(doubleConsumes).toEqual([old.grantId]);
    expect(await consumed(next.jti as string)).toBeUndefined();
  });

  test('two requests racing with one token: one settles, the other is told its token was used', async () => {
    const old = await storedRefreshToken();
    const [first, second] = [{}, {}];
    request = first;
    await adapters('RefreshToken').consume(old.jti as string);
    request = second;
    await adapters('RefreshToken').consume(old.jti as string);
    const [a, b] = [refreshToken(old.grantId as string), refreshToken(old.grantId as string)];
    request = first;
    await adapters('RefreshToken').upsert(a.jti as string, a, 600);
    request = second;
    await adapters('RefreshToken').upsert(b.jti as string, b, 600);
    const outcomes = await Promise.all([adapters.settle(first), adapters.settle(second)]);
    expect(outcomes.filter((o) => o === undefined)).toHaveLength(1);
    expect(outcomes.filter((o) => o !== undefined)).toEqual([{ failure: { error: new Error('refresh token already used') }, notWithdrawn: [] }]);
    // The loser takes nothing back: the winner's rotation stands.
    expect(await consumed(old.jti as string)).toEqual({ consumed: true });
  });

  test('an access token the store failed to save is reported when the request settles, not lost', async () => {
    const req = {};
    request = req;
    failWith = /INSERT INTO oidc_payloads/;
    await savedAccessToken();
    expect(await adapters.settle(req)).toEqual({ failure: { error: new Error('the store is down') }, notWithdrawn: [] });
  });

  test('a rotation whose access token could not be stored is taken back: the old token refreshes again, the successor is gone', async () => {
    const { old, next, req } = await rotatedInARequest();
    failWith = /INSERT INTO oidc_payloads/;
    const accessToken = await savedAccessToken(old.grantId);
    expect(await adapters.settle(req)).toEqual({ failure: { error: new Error('the store is down') }, notWithdrawn: [] });
    failWith = undefined;
    expect(await consumed(old.jti as string)).toEqual({ consumed: false });
    expect(await consumed(next.jti as string)).toBeUndefined();
    // The client's retry of the same token is a refresh, not a replay.
    const retry = {};
    const again = refreshToken(old.grantId as string);
    await rotate(retry, old, again);
    expect(await adapters.settle(retry)).toBeUndefined();
    expect(doubleConsumes).toEqual([]);
    expect(await consumed(old.jti as string)).toEqual({ consumed: true });
    expect(await consumed(again.jti as string)).toEqual({ consumed: false });
  });

  test('a response that does not hand its tokens out (the request failed after the writes started) takes them back', async () => {
    const { old, next, req } = await rotatedInARequest();
    const accessToken = await savedAccessToken(old.grantId);
    expect(await adapters.settle(req, false)).toEqual({ notWithdrawn: [] });
    request = undefined;
    expect(await consumed(old.jti as string)).toEqual({ consumed: false });
    expect(await consumed(next.jti as string)).toBeUndefined();
    expect(await adapters('AccessToken').find(accessToken.jti as string)).toBeUndefined();
  });

  test('a rotation taken back after its grant was revoked leaves the old token consumed; a failed take-back is reported', async () => {
    const { old, next, req } = await rotatedInARequest();
    // The rotation's statement goes out on the next turn; PGlite runs statements in the order they came.
    await new Promise((resolve) => setImmediate(resolve));
    // Revoked meanwhile (as Revocations.grant would, but of the successor alone: the old row stays to be looked at).
    await sql.query("DELETE FROM oidc_payloads WHERE model = 'RefreshToken' AND id = $1", [codec.storageId('RefreshToken', next.jti as string)]);
    expect(await adapters.settle(req, false)).toEqual({ notWithdrawn: [] });
    expect(await consumed(old.jti as string)).toEqual({ consumed: true });

    const other = await storedRefreshToken();
    const req2 = {};
    await rotate(req2, other, refreshToken(other.grantId as string));
    failWith = /WITH successor/;
    expect(await adapters.settle(req2, false)).toEqual({ notWithdrawn: [new Error('the store is down')] });
  });

  test('outside a request every save is waited for where it is made', async () => {
    failWith = /INSERT INTO oidc_payloads/;
    await expect(savedAccessToken()).rejects.toThrow('the store is down');
    failWith = undefined;
    const old = await storedRefreshToken();
    await adapters('RefreshToken').consume(old.jti as string);
    await expect(adapters('RefreshToken').consume(old.jti as string)).rejects.toThrow('refresh token already used');
  });

  test('ResponseWrites: nothing deferred outside a request; a request with nothing deferred settles at once', async () => {
    const writes = new ResponseWrites(() => undefined);
    expect(writes.defer(Promise.resolve())).toBe(false);
    expect(await new ResponseWrites(() => ({})).settle({})).toBeUndefined();
    expect(await new ResponseWrites(() => ({})).settle({}, false)).toBeUndefined();
  });
});

describe('a refresh token\'s session, read alongside it', () => {
  const sessionUid = () => `uid-${rid()}`;
  const sessionReads = () => queries.filter((q) => q.includes('uid = $2')).length;

  async function storeSession(uid: string): Promise<Payload> {
    const session = { jti: rid(), kind: 'Session', uid, accountId: 'acct', exp: Math.floor(Date.now() / 1000) + 600 };
    await adapters('Session').upsert(session.jti, session, 600);
    return session;
  }

  test('the session read starts with the token\'s lookup and serves the session lookup of that request, once', async () => {
    const uid = sessionUid();
    const session = await storeSession(uid);
    const token = await storedRefreshToken({ sessionUid: uid, expiresWithSession: true });
    request = {};
    queries = [];
    await adapters('RefreshToken').find(token.jti as string);
    expect(sessionReads()).toBe(1);
    expect(await adapters('Session').findByUid(uid)).toMatchObject({ jti: session.jti, uid });
    expect(sessionReads()).toBe(1);
    // A second lookup in the same request reads again.
    await adapters('Session').findByUid(uid);
    expect(sessionReads()).toBe(2);
  });

  test('a session ended after the token was stored is seen as ended', async () => {
    const uid = sessionUid();
    const session = await storeSession(uid);
    const token = await storedRefreshToken({ sessionUid: uid, expiresWithSession: true });
    await adapters('Session').destroy(session.jti as string);
    request = {};
    await adapters('RefreshToken').find(token.jti as string);
    expect(await adapters('Session').findByUid(uid)).toBeUndefined();
  });

  test('the read is not handed to another request, nor for another session', async () => {
    const uid = sessionUid();
    await storeSession(uid);
    const token = await storedRefreshToken({ sessionUid: uid, expiresWithSession: true });
    request = {};
    await adapters('RefreshToken').find(token.jti as string);
    queries = [];
    const other = sessionUid();
    await storeSession(other);
    expect(await adapters('Session').findByUid(other)).toMatchObject({ uid: other });
    request = {};
    expect(await adapters('Session').findByUid(uid)).toMatchObject({ uid });
    expect(sessionReads()).toBe(2);
  });

  test('a token that does not expire with its session, or one read outside a request, starts no read', async () => {
    const uid = sessionUid();
    await storeSession(uid);
    const offline = await storedRefreshToken({ sessionUid: uid });
    request = {};
    queries = [];
    await adapters('RefreshToken').find(offline.jti as string);
    expect(sessionReads()).toBe(0);
    const bound = await storedRefreshToken({ sessionUid: uid, expiresWithSession: true });
    request = undefined;
    await adapters('RefreshToken').find(bound.jti as string);
    expect(sessionReads()).toBe(0);
  });

  test('the tokens remembered are bounded: the oldest are forgotten first', () => {
    const started: string[] = [];
    const prefetch = new SessionPrefetch(() => ({}), async (uid) => {
      started.push(uid);
      return undefined;
    });
    for (let i = 0; i <= SessionPrefetch.MAX_REMEMBERED; i++) prefetch.remember(`token-${i}`, { sessionUid: `s-${i}`, expiresWithSession: true });
    prefetch.start('token-0');
    prefetch.start('token-1');
    prefetch.start(`token-${SessionPrefetch.MAX_REMEMBERED}`);
    expect(started).toEqual(['s-1', `s-${SessionPrefetch.MAX_REMEMBERED}`]);
  });
});

test('a grant the cache keeps is not held again with its token: after the cache drops it, the table answers', async () => {
  const cached = createAdapterFactory({ sql, codec, clientCacheMs: 5000, currentRequest: () => request, onDoubleConsume: async () => { throw new Error('unused'); } });
  const grantId = rid();
  await cached('Grant').upsert(grantId, { jti: grantId, kind: 'Grant', accountId: 'acct', clientId: 'web', openid: { scope: 'openid' } }, 600);
  expect(await cached('Grant').find(grantId)).toMatchObject({ openid: { scope: 'openid' } });
  const token = refreshToken(grantId);
  await cached('RefreshToken').upsert(token.jti as string, token, 600);
  request = {};
  expect(await cached('RefreshToken').find(token.jti as string)).toMatchObject({ grantId });
  // Changed behind this instance's back, then dropped from its cache (as the revocation bus does).
  await sql.query("UPDATE oidc_payloads SET payload = jsonb_set(payload, '{openid,scope}', '\"openid email\"') WHERE model = 'Grant' AND id = $1", [grantId]);
  cached.forget('Grant', grantId);
  expect(await cached('Grant').find(grantId)).toMatchObject({ openid: { scope: 'openid email' } });
});
