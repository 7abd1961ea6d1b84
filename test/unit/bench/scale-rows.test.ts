/**
 * The large-table bench's generated rows (bench/scale-rows.ts) are rows Vigil itself can read: a
 * loaded refresh token is found by its value through the SQL adapter, with its grant; a loaded
 * history loads as the risk engine's; the counts are the ones the sizes promise.
 */
import { createHash, randomBytes } from 'node:crypto';
import { KeyRing } from '../../../src/crypto/index.ts';
import { emptyPopulation } from '../../../src/risk/index.ts';
import { GrantPrefetch, migrate, PayloadCodec, PgliteSql, SqlAdapter } from '../../../src/store/index.ts';
import { RiskStore } from '../../../src/verification/index.ts';
import { loadScaleWith } from '../../../bench/scale-load.ts';
import { derivedCounts, scaleSizes } from '../../../bench/scale-rows.ts';

const sizes = scaleSizes({ BENCH_SCALE_ACCOUNTS: '200', BENCH_SCALE_GRANTS: '1000', BENCH_SCALE_AUDIT_DAYS: '2', BENCH_SCALE_ACTIVE_SHARE: '0.1' });
let sql: PgliteSql;
const noDoubleConsume = async (): Promise<never> => { throw new Error('consumed twice'); };
const accountId = (n: number) => createHash('md5').update(`account:${n}`).digest('hex').replace(/^(.{8})(.{4})(.{4})(.{4})(.{12})$/, '$1-$2-$3-$4-$5');

beforeAll(async () => {
  sql = await PgliteSql.open(undefined);
  await migrate(sql);
  const quiet = process.stderr.write;
  process.stderr.write = () => true;
  try {
    await loadScaleWith(sql, sizes);
  } finally {
    process.stderr.write = quiet;
  }
}, 60_000);

afterAll(() => sql?.close());

const count = async (query: string) => Number((await sql.query<{ n: string }>(query)).rows[0].n);

test('the tables hold what the sizes say: 0–10 grants a person, each with a live token; the audit trail and assessments at their rate', async () => {
  const d = derivedCounts(sizes);
  const grants = await count("SELECT count(*) AS n FROM oidc_payloads WHERE model = 'Grant'");
  expect(grants).toBeGreaterThan(700);
  expect(grants).toBeLessThan(1300);
  expect(await count("SELECT max(c) AS n FROM (SELECT count(*) AS c FROM oidc_payloads WHERE model = 'Grant' GROUP BY account_id) g")).toBeLessThanOrEqual(10);
  expect(await count("SELECT count(*) AS n FROM oidc_payloads WHERE model = 'RefreshToken' AND consumed_at IS NULL AND expires_at > now()")).toBe(grants);
  expect(await count("SELECT count(*) AS n FROM oidc_payloads WHERE model = 'RefreshToken' AND consumed_at IS NOT NULL AND expires_at > now()")).toBe(d.consumedRefreshTokens);
  expect(await count('SELECT count(*) AS n FROM risk_grant_bindings')).toBe(grants);
  // Every grant and token belongs to one of the loaded clients.
  expect(await count(`SELECT count(*) AS n FROM oidc_payloads t WHERE t.model IN ('Grant', 'RefreshToken')
    AND NOT EXISTS (SELECT 1 FROM oidc_payloads c WHERE c.model = 'Client' AND c.id = t.payload->>'clientId')`)).toBe(0);
  expect(await count('SELECT count(*) AS n FROM audit_log')).toBe(d.auditRows);
  expect(await count("SELECT count(*) AS n FROM audit_log WHERE at < now() - interval '1 day'")).toBeGreaterThan(d.auditRows / 3);
  expect(await count("SELECT count(*) AS n FROM audit_log WHERE activity = 'sign_in'")).toBe(sizes.days * d.signInsPerDay);
  expect(await count('SELECT count(*) AS n FROM risk_assessments')).toBe(d.assessments);
});

test("the columns Vigil derives are filled as Vigil fills them: each token's client, each session's latest level and the counts of both", async () => {
  expect(await count(`SELECT count(*) AS n FROM oidc_payloads WHERE model IN ('Grant', 'RefreshToken')
    AND client_id IS DISTINCT FROM payload->>'clientId'`)).toBe(0);
  expect(await count(`SELECT count(*) AS n FROM session_activity a WHERE risk_level IS DISTINCT FROM
    (SELECT level FROM risk_assessments r WHERE r.session_uid = a.session_uid ORDER BY at DESC, id DESC LIMIT 1)`)).toBe(0);
  expect(await count("SELECT count(*) AS n FROM session_activity WHERE risk_level IS NOT NULL")).toBeGreaterThan(0);
  const { rows } = await sql.query<{ level: string; kept: string; counted: string }>(
    `SELECT coalesce(k.risk_level, c.level) AS level, coalesce(k.n, 0) AS kept, coalesce(c.n, 0) AS counted
     FROM (SELECT risk_level, sum(sessions) AS n FROM session_counts GROUP BY 1) k
     FULL JOIN (SELECT coalesce(risk_level, 'none') AS level, count(*) AS n FROM session_activity GROUP BY 1) c ON c.level = k.risk_level`);
  for (const r of rows) expect([r.level, Number(r.kept)]).toEqual([r.level, Number(r.counted)]);
  expect(await count("SELECT sum(decisions) AS n FROM risk_decision_counts")).toBe(
    await count("SELECT count(*) AS n FROM risk_assessments"));
});

test("a loaded refresh token is found by its value through Vigil's SQL adapter, with its grant, live", async () => {
  const codec = new PayloadCodec(new KeyRing(randomBytes(32)));
  const path = { grants: new GrantPrefetch() };
  const tokens = new SqlAdapter('RefreshToken', sql, codec, noDoubleConsume, path);
  const grants = new SqlAdapter('Grant', sql, codec, noDoubleConsume, path);
  let found = 0;
  for (let n = 0; n < 20; n++) {
    const value = createHash('sha256').update(`refresh:${n}:1`).digest('base64url');
    const token = await tokens.find(value);
    if (!token) continue;
    found += 1;
    expect(token).toMatchObject({ jti: value, kind: 'RefreshToken', accountId: accountId(n), expiresWithSession: true });
    expect(token.consumed).toBeUndefined();
    expect(token.exp).toBeGreaterThan(Date.now() / 1000);
    expect(await grants.find(String(token.grantId))).toMatchObject({ kind: 'Grant', accountId: accountId(n), clientId: token.clientId });
  }
  expect(found).toBeGreaterThan(10);
});

test("a loaded person's history loads as the risk engine's: 50 events, counts per feature", async () => {
  const n = Number((await sql.query<{ n: string }>(
    "SELECT n FROM generate_series(0, 199) AS n WHERE md5('account:' || n)::uuid::text IN (SELECT account_id FROM risk_profiles) LIMIT 1")).rows[0].n);
  const state = await new RiskStore(sql).load(emptyPopulation(), { accountId: accountId(n), ip: '203.0.113.9' });
  expect(state.version).toBe(192);
  expect(state.history.accountEvents).toHaveLength(50);
  expect(state.history.accountStats.total).toBe(192);
});

test('a size that is not a count names its setting', () => {
  expect(() => scaleSizes({ BENCH_SCALE_GRANTS: 'many' })).toThrow(/BENCH_SCALE_GRANTS/);
});
