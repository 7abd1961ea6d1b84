/**
 * What a bench database holds and how Postgres served it: table and index sizes, the buffer hit
 * rate between two readings, and what the tables (and the Redis database) stored between two
 * snapshots, per operation.
 */
import pg from 'pg';
import { Redis } from 'ioredis';

/** `work` on a connection of its own to the database at `url`, closed after. */
export async function withClient<T>(url: string, work: (db: pg.Client) => Promise<T>): Promise<T> {
  const db = new pg.Client({ connectionString: url });
  await db.connect();
  try {
    return await work(db);
  } finally {
    await db.end();
  }
}

export interface TableSize { table: string; rows: number; totalBytes: number; heapBytes: number; indexBytes: number }

/** Every table of the database, largest first (rows: the planner's estimate, exact after ANALYZE). */
export function tableSizes(url: string): Promise<TableSize[]> {
  return withClient(url, async (db) => {
    const { rows } = await db.query<{ table: string; rows: string; total: string; heap: string; indexes: string }>(
      `SELECT c.relname AS table, greatest(c.reltuples, 0)::bigint AS rows, pg_total_relation_size(c.oid) AS total,
         pg_table_size(c.oid) AS heap, pg_indexes_size(c.oid) AS indexes
       FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
       WHERE c.relkind = 'r' AND n.nspname = current_schema() ORDER BY pg_total_relation_size(c.oid) DESC`);
    return rows.map((r) => ({ table: r.table, rows: Number(r.rows), totalBytes: Number(r.total), heapBytes: Number(r.heap), indexBytes: Number(r.indexes) }));
  });
}

export interface BlockCounts { heapRead: number; heapHit: number; indexRead: number; indexHit: number }

/** Blocks read from disk (or the OS cache) and found in shared buffers, over this database's tables so far. */
export function blockCounts(url: string): Promise<BlockCounts> {
  return withClient(url, async (db) => {
    const { rows } = await db.query<Record<keyof BlockCounts, string | null>>(
      `SELECT sum(heap_blks_read) AS "heapRead", sum(heap_blks_hit) AS "heapHit", sum(idx_blks_read) AS "indexRead", sum(idx_blks_hit) AS "indexHit"
       FROM pg_statio_user_tables`);
    const r = rows[0];
    return { heapRead: Number(r.heapRead ?? 0), heapHit: Number(r.heapHit ?? 0), indexRead: Number(r.indexRead ?? 0), indexHit: Number(r.indexHit ?? 0) };
  });
}

export interface HitRate { heap: number; index: number; all: number; blocksRead: number }

/** The share of block reads served from shared buffers between two readings. */
export function hitRate(before: BlockCounts, after: BlockCounts): HitRate {
  const d = (k: keyof BlockCounts) => after[k] - before[k];
  const rate = (hit: number, read: number) => (hit + read ? hit / (hit + read) : 1);
  return {
    heap: rate(d('heapHit'), d('heapRead')), index: rate(d('indexHit'), d('indexRead')),
    all: rate(d('heapHit') + d('indexHit'), d('heapRead') + d('indexRead')), blocksRead: d('heapRead') + d('indexRead'),
  };
}

/** One table's content at a moment: rows, the bytes of its rows (pg_column_size), and its size on disk with indexes. */
export interface TableContent { rows: number; rowBytes: number; diskBytes: number }

export interface StorageSnapshot { tables: Record<string, TableContent>; redis: Record<string, TableContent> }

/** Scans every table (meant for the small database of the empty-table server). */
async function sqlContent(url: string): Promise<Record<string, TableContent>> {
  return withClient(url, async (db) => {
    const { rows: tables } = await db.query<{ table: string }>(
      `SELECT c.relname AS table FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind = 'r' AND n.nspname = current_schema()`);
    const out: Record<string, TableContent> = {};
    for (const { table } of tables) {
      const { rows } = await db.query<{ rows: string; bytes: string | null; disk: string }>(
        `SELECT count(*) AS rows, sum(pg_column_size(t.*)) AS bytes, pg_total_relation_size('"${table}"') AS disk FROM "${table}" t`);
      out[table] = { rows: Number(rows[0].rows), rowBytes: Number(rows[0].bytes ?? 0), diskBytes: Number(rows[0].disk) };
    }
    return out;
  });
}

/** The Redis logical database's keys by kind (the key up to its id: `vigil:oidc:Session`, …), with MEMORY USAGE. */
async function redisContent(url: string): Promise<Record<string, TableContent>> {
  const redis = new Redis(url, { maxRetriesPerRequest: 1 });
  try {
    const out: Record<string, TableContent> = {};
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'COUNT', 1000);
      cursor = next;
      const usage = await Promise.all(keys.map((k) => redis.memory('USAGE', k) as Promise<number | null>));
      keys.forEach((key, i) => {
        if (key === 'vigil-test-lease') return;
        const kind = key.split(':').slice(0, 3).join(':') + (key.endsWith(':consumed') ? ':consumed' : '');
        const c = (out[kind] ??= { rows: 0, rowBytes: 0, diskBytes: 0 });
        c.rows += 1;
        c.rowBytes += usage[i] ?? 0;
        c.diskBytes += usage[i] ?? 0;
      });
    } while (cursor !== '0');
    return out;
  } finally {
    redis.disconnect();
  }
}

export async function storageSnapshot(databaseUrl: string, redisUrl: string): Promise<StorageSnapshot> {
  const [tables, redis] = await Promise.all([sqlContent(databaseUrl), redisContent(redisUrl)]);
  return { tables, redis };
}

export interface StoredPerOperation { store: 'postgres' | 'redis'; table: string; rowsPerOp: number; rowBytesPerOp: number; diskBytesPerOp: number }

/** What each table (and kind of Redis key) grew by between two snapshots, per operation; those that did not grow left out. */
export function storedPerOperation(before: StorageSnapshot, after: StorageSnapshot, operations: number): StoredPerOperation[] {
  const out: StoredPerOperation[] = [];
  for (const store of ['postgres', 'redis'] as const) {
    const [b, a] = store === 'postgres' ? [before.tables, after.tables] : [before.redis, after.redis];
    for (const table of new Set([...Object.keys(b), ...Object.keys(a)])) {
      const zero = { rows: 0, rowBytes: 0, diskBytes: 0 };
      const [x, y] = [b[table] ?? zero, a[table] ?? zero];
      const per = (k: keyof TableContent) => (y[k] - x[k]) / Math.max(1, operations);
      if (y.rows === x.rows && y.rowBytes === x.rowBytes && y.diskBytes === x.diskBytes) continue;
      out.push({ store, table, rowsPerOp: per('rows'), rowBytesPerOp: per('rowBytes'), diskBytesPerOp: per('diskBytes') });
    }
  }
  return out.sort((p, q) => q.rowBytesPerOp - p.rowBytesPerOp);
}

export const mb = (bytes: number) => Math.round(bytes / 1024 / 1024 * 10) / 10;

/** The server processes of the connections to this database now (Vigil's pool, the bench's own not included). */
export function backendPids(url: string): Promise<number[]> {
  return withClient(url, async (db) => (await db.query<{ pid: number }>(
    'SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()')).rows.map((r) => r.pid));
}
