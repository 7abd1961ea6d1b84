import { backendPids } from './db-stats.ts';
import { cpuByProcess, cpuGrowth, cpuMs, cpuOf } from './process-stats.ts';

/**
 * CPU ms used meanwhile by each Vigil process, by the Postgres backends serving this database
 * (other databases' work on the same server left out; the server's shared background processes
 * too) and by Redis (the whole server: other work on it included).
 */
export async function withCpu<T>(pids: number[], databaseUrl: string, work: () => Promise<T>): Promise<{ result: T; vigilMs: number[]; postgresMs: number; redisMs: number }> {
  const v0 = pids.map(cpuMs);
  const pg0 = cpuOf(await backendPids(databaseUrl));
  const redis0 = cpuByProcess('redis-server');
  const result = await work();
  const vigilMs = pids.map((pid, i) => cpuMs(pid) - v0[i]);
  const redisMs = cpuGrowth(redis0, cpuByProcess('redis-server'));
  const pg1 = cpuOf(new Set([...pg0.keys(), ...await backendPids(databaseUrl)]));
  return { result, vigilMs, postgresMs: cpuGrowth(pg0, pg1), redisMs };
}
