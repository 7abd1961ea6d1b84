import { ADVISORY_LOCKS, migrate, PostgresSql, purgeExpired } from '../../../src/store/index.ts';
import { freshDatabase } from '../../support/services.ts';

let db: { url: string; drop(): Promise<void> };
let sql: PostgresSql;

beforeAll(async () => {
  db = await freshDatabase();
  sql = new PostgresSql(db.url, 4);
  await migrate(sql);
}, 60_000);

afterAll(async () => {
  await sql?.close();
  await db?.drop();
});

const HOUR = 3_600_000;
let next = 0;

/** Payload rows expiring at the given times (null: never), their ids. */
async function payloads(expires: (number | null)[]): Promise<string[]> {
  const ids = expires.map(() => `payload-${next++}`);
  for (const [i, at] of expires.entries()) {
    await sql.query('INSERT INTO oidc_payloads (model, id, payload, expires_at) VALUES ($1, $2, $3, $4)',
      ['AccessToken', ids[i], '{}', at === null ? null : new Date(at).toISOString()]);
  }
  return ids;
}

async function remaining(ids: string[]): Promise<number> {
  const { rows } = await sql.query<{ n: number }>('SELECT count(*)::int AS n FROM oidc_payloads WHERE id = ANY($1::text[])', [ids]);
  return rows[0].n;
}

test('removes every payload expired over an hour ago, a batch at a time, and nothing else', async () => {
  const now = Date.now();
  const expired = await payloads([now - 5 * HOUR, now - 4 * HOUR, now - 3 * HOUR, now - 2 * HOUR, now - 1.5 * HOUR]);
  const kept = await payloads([now - 0.5 * HOUR, now + HOUR, null]);
  expect(await purgeExpired(sql, 2)).toBe(expired.length);
  expect(await remaining(expired)).toBe(0);
  expect(await remaining(kept)).toBe(kept.length);
});

test('one instance at a time: while another holds the turn, it removes nothing and says so', async () => {
  const expired = await payloads([Date.now() - 2 * HOUR]);
  await sql.transaction(async (other) => {
    await other.query('SELECT pg_advisory_xact_lock($1)', [ADVISORY_LOCKS.payloadPurge]);
    expect(await purgeExpired(sql)).toBeUndefined();
  });
  expect(await remaining(expired)).toBe(1);
  expect(await purgeExpired(sql)).toBe(1);
  expect(await remaining(expired)).toBe(0);
});
