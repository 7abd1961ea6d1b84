import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Redis } from 'ioredis';
import type { Config } from '../config/index.ts';
import { PgliteSql, PostgresSql, type Sql } from './sql.ts';
import { connectRedis } from './redis.ts';

export class StoreUnavailableError extends Error {
  override name = 'StoreUnavailableError';
}

/** Which kind of process holds the embedded database: a server opens its control channel soon; a CLI run lets go soon. */
export type DataDirHolder = 'server' | 'cli';

export class DataDirInUseError extends StoreUnavailableError {
  override name = 'DataDirInUseError';
  readonly holderPid: number;
  readonly holder: DataDirHolder | undefined;
  constructor(message: string, holderPid: number, holder: DataDirHolder | undefined) {
    super(message);
    this.holderPid = holderPid;
    this.holder = holder;
  }
}

export interface Stores {
  sql: Sql;
  redis?: Redis;
  close(): Promise<void>;
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The lock file's text: the holder's process id, then what it is (a lock without one is from before it was written). */
const LOCK_TEXT = /^(\d+)(?: (server|cli))?\s*$/;

/** The embedded database is single-process: a second process (server or CLI) must not open it. */
function lockDataDir(dataDir: string, holder: DataDirHolder): () => void {
  const path = join(dataDir, 'vigil.lock');
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      writeFileSync(path, `${process.pid} ${holder}`, { flag: 'wx', mode: 0o600 });
      return () => rmSync(path, { force: true });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const [, pid, kind] = LOCK_TEXT.exec(readFileSync(path, 'utf8')) ?? [];
      const holderPid = Number(pid);
      if (holderPid > 0 && processAlive(holderPid)) {
        throw new DataDirInUseError(`VIGIL_DATA_DIR: the embedded database in ${dataDir} is in use by process ${holderPid}; stop it first, or use DATABASE_URL to share a Postgres between processes`, holderPid, kind as DataDirHolder | undefined);
      }
      rmSync(path, { force: true });
    }
  }
  throw new StoreUnavailableError(`VIGIL_DATA_DIR: could not lock ${path}`);
}

function describe(url: string): string {
  const parsed = new URL(url);
  return `${parsed.protocol}//${parsed.hostname}:${parsed.port || (parsed.protocol.startsWith('redis') ? 6379 : 5432)}${parsed.pathname}`;
}

/** Opens the stores of the configured mode; a store that cannot be reached is a clear error. */
export async function openStores(config: Config, holder: DataDirHolder = 'server'): Promise<Stores> {
  let sql: Sql;
  if (config.DATABASE_URL) {
    sql = new PostgresSql(config.DATABASE_URL, config.VIGIL_DB_POOL_SIZE);
    try {
      await sql.query('SELECT 1');
    } catch (err) {
      await sql.close().catch(() => {});
      throw new StoreUnavailableError(`DATABASE_URL: cannot reach Postgres at ${describe(config.DATABASE_URL)} (${(err as Error).message || (err as Error).name})`);
    }
  } else {
    const dir = join(config.dataDir, 'pglite');
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const release = lockDataDir(config.dataDir, holder);
    try {
      const embedded = await PgliteSql.open(dir);
      const close = embedded.close.bind(embedded);
      embedded.close = async () => {
        await close();
        release();
      };
      sql = embedded;
    } catch (err) {
      release();
      throw new StoreUnavailableError(`VIGIL_DATA_DIR: cannot open the embedded database in ${dir} (${(err as Error).message})`);
    }
  }
  let redis: Redis | undefined;
  if (config.REDIS_URL) {
    try {
      redis = await connectRedis(config.REDIS_URL);
    } catch (err) {
      await sql.close().catch(() => {});
      throw new StoreUnavailableError(`REDIS_URL: cannot reach Redis at ${describe(config.REDIS_URL)} (${(err as Error).message})`);
    }
  }
  return {
    sql,
    redis,
    async close() {
      await Promise.allSettled([sql.close(), redis?.quit()]);
    },
  };
}

export async function storesReady(stores: Stores): Promise<{ ok: boolean; checks: Record<string, string> }> {
  const checks: Record<string, string> = {};
  const probe = async (name: string, fn: () => Promise<unknown>) => {
    try {
      await Promise.race([fn(), new Promise((_, reject) => setTimeout(() => reject(new Error('timeout')), 2000).unref())]);
      checks[name] = 'ok';
    } catch (err) {
      checks[name] = `unavailable: ${(err as Error).message}`;
    }
  };
  await Promise.all([
    probe(stores.sql.kind, () => stores.sql.query('SELECT 1')),
    stores.redis ? probe('redis', () => stores.redis!.ping()) : undefined,
  ]);
  return { ok: Object.values(checks).every((v) => v === 'ok'), checks };
}
