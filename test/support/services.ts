import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { Redis } from 'ioredis';

export const POSTGRES_URL = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
export const REDIS_BASE_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

/** A fresh, empty Postgres database for one test file; dropped by the returned function. */
export async function freshDatabase(): Promise<{ url: string; drop(): Promise<void> }> {
  const name = `vigil_t_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: POSTGRES_URL });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = new URL(POSTGRES_URL);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    async drop() {
      const c = new pg.Client({ connectionString: POSTGRES_URL });
      await c.connect();
      await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await c.end();
    },
  };
}

/**
 * A Redis logical database of its own (1..15), leased so that concurrent runs on one machine
 * never share (and never empty) each other's database; emptied first.
 */
export async function freshRedis(): Promise<{ url: string; redis: Redis; close(): Promise<void> }> {
  const lease = `vigil-test-lease:${randomBytes(8).toString('hex')}`;
  for (const index of [...Array(15).keys()].map((i) => i + 1).sort(() => Math.random() - 0.5)) {
    const url = `${REDIS_BASE_URL}/${index}`;
    const redis = new Redis(url, { maxRetriesPerRequest: 1 });
    const taken = await redis.set('vigil-test-lease', lease, 'EX', 1800, 'NX');
    if (taken !== 'OK') {
      await redis.quit();
      continue;
    }
    const keys = (await redis.keys('*')).filter((k) => k !== 'vigil-test-lease');
    if (keys.length) await redis.del(...keys);
    return {
      url, redis,
      async close() {
        await redis.flushdb();
        await redis.quit();
      },
    };
  }
  throw new Error('every Redis test database (1-15) is leased by another run');
}

/** One query on the database at `url` (a connection of its own, closed after): for tests that look at what Vigil stored. */
export async function queryDatabase<T>(url: string, sql: string, params: unknown[] = []): Promise<T[]> {
  const db = new pg.Client({ connectionString: url });
  await db.connect();
  try {
    return (await db.query(sql, params)).rows as T[];
  } finally {
    await db.end();
  }
}
