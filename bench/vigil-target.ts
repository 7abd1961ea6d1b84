import { loadConfig } from '../src/config/index.ts';
import { createLogger } from '../src/observability/index.ts';
import { openCore } from '../src/core.ts';
import { COMMANDS } from '../src/cli/commands.ts';
import { freshDatabase, freshRedis } from '../test/support/services.ts';
import { newMasterKey, ROOT, startVigil, type VigilProcess } from '../test/support/vigil-process.ts';
import { benchAccount, RESOURCES, type ClientInfo } from './accounts.ts';
import type { VigilTarget } from './target.ts';

/** "A=1 B=2" (the setting `name`) as { A: '1', B: '2' }. */
export function envPairs(pairs: string | undefined, name = 'BENCH_VIGIL_ENV'): Record<string, string> {
  return Object.fromEntries((pairs ?? '').split(/\s+/).filter(Boolean).map((pair) => {
    const eq = pair.indexOf('=');
    if (eq < 1) throw new Error(`${name}: ${pair} is not NAME=value`);
    return [pair.slice(0, eq), pair.slice(eq + 1)];
  }));
}

/** How the Dockerfile and `npm start` run Vigil (memory settings: docs/performance.md). */
const SHIPPED_NODE_OPTIONS = '--max-semi-space-size=32';
const SHIPPED_ENV = 'MALLOC_ARENA_MAX=2 MALLOC_MMAP_THRESHOLD_=131072 GLIBC_TUNABLES=glibc.malloc.hugetlb=1';

/** The environment the bench runs Vigil with, on the given database and Redis. */
export function benchVigilEnv(databaseUrl: string, redisUrl: string, extraEnv: Record<string, string> = {}): Record<string, string> {
  return {
    DATABASE_URL: databaseUrl, REDIS_URL: redisUrl, VIGIL_MASTER_KEY: newMasterKey(), VIGIL_ADMIN_EMAIL: 'root@bench.test', VIGIL_ADMIN_PASSWORD: 'bench admin password',
    NODE_ENV: 'production', LOG_LEVEL: process.env.BENCH_LOG_LEVEL ?? 'warn',
    // Every sign-in comes from 127.0.0.1; none fails, but the login run must never meet the throttle.
    VIGIL_LOGIN_MAX_FAILURES_PER_IP: '100000',
    // e.g. BENCH_VIGIL_NODE_OPTIONS="--max-semi-space-size=32 --cpu-prof --cpu-prof-dir=/tmp/vigil-prof" to profile the Vigil servers.
    NODE_OPTIONS: process.env.BENCH_VIGIL_NODE_OPTIONS ?? SHIPPED_NODE_OPTIONS,
    // The C library's allocator settings (argon2's 19 MiB buffers: given back, mapped with huge pages); BENCH_VIGIL_ENV="" runs without them.
    ...envPairs(process.env.BENCH_VIGIL_ENV ?? SHIPPED_ENV),
    ...extraEnv,
  };
}

/** What the bench needs on a server: its accounts, and its clients (web, resource server, machine). */
export type BenchClients = Pick<VigilTarget, 'redirect' | 'web' | 'rs' | 'machine'>;

/** Creates the bench's accounts and clients in the database of a running Vigil. */
export async function provisionBench(vigil: VigilProcess, accounts: number): Promise<BenchClients> {
  // The CLI's own commands, in this process: spawning `vigil user create` costs ~2 s per account.
  const cliEnv = { ...vigil.env, ISSUER: vigil.issuer };
  const core = await openCore(loadConfig(cliEnv, ROOT), createLogger('warn', process.stderr as never));
  const cli = async <T>(argv: string[]) => (await COMMANDS[`${argv[0]} ${argv[1]}`](core, argv.slice(2))).data as T;
  try {
    const redirect = `${vigil.issuer}/bench-cb`;
    for (let i = 0; i < accounts; i += 8) {
      await Promise.all(Array.from({ length: Math.min(8, accounts - i) }, (_, j) => {
        const { email, password } = benchAccount(i + j);
        return cli(['user', 'create', '--email', email, '--password', password]);
      }));
    }
    // A confidential web client whose back end refreshes for the person and forwards their address and agent.
    const web = await cli<ClientInfo>(['client', 'create', '--name', 'bench web', '--redirect-uri', redirect, '--forward-end-user']);
    const rs = await cli<ClientInfo>(['client', 'create', '--name', 'bench api', '--resource-server', '--resource', RESOURCES.opaque, '--scope', 'read', '--token-format', 'opaque']);
    await cli<ClientInfo>(['client', 'create', '--name', 'bench jwt api', '--resource-server', '--resource', RESOURCES.jwt, '--scope', 'read', '--token-format', 'jwt']);
    const machine = await cli<ClientInfo>(['client', 'create', '--name', 'bench job', '--grant-type', 'client_credentials', '--allow-resource', RESOURCES.opaque, '--allow-resource', RESOURCES.jwt]);
    return { redirect, web, rs, machine };
  } finally {
    await core.close();
  }
}

/** A database of its own for one bench server, dropped with it. */
export type BenchDatabase = () => Promise<{ url: string; drop(): Promise<void> }>;

/**
 * A production-mode Vigil on a fresh database (or the one `database` makes) and Redis, with the
 * bench's accounts and clients.
 */
export async function startVigilTarget(label: string, accounts: number, extraEnv: Record<string, string> = {}, checkout?: string, database: BenchDatabase = freshDatabase): Promise<VigilTarget> {
  const [db, redis] = await Promise.all([database(), freshRedis()]);
  const env = benchVigilEnv(db.url, redis.url, extraEnv);
  let vigil: VigilProcess;
  try {
    vigil = await startVigil(env, checkout ? { checkout } : {});
  } catch (err) {
    await redis.close();
    await db.drop();
    throw err;
  }
  const stop = async () => {
    await vigil.stop();
    await redis.close();
    await db.drop();
  };
  try {
    return { label, url: vigil.url, issuer: vigil.issuer, pid: vigil.pid, env, ...(await provisionBench(vigil, accounts)), stop };
  } catch (err) {
    await stop();
    throw err;
  }
}
