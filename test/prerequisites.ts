/**
 * `npm test` runs this first: what the suite needs from the machine, each probed for at most
 * PROBE_MS, all at once. Every missing one is one line saying how to get it (README, "Tests"),
 * and the run stops here instead of failing deep in a suite.
 */
import { constants, accessSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { delimiter, join } from 'node:path';
import pg from 'pg';
import { Redis } from 'ioredis';
import { POSTGRES_URL, REDIS_BASE_URL } from './support/services.ts';
import { CHROMIUM_PATH } from './support/chromium.ts';
import { postgresBinDir } from './support/postgres-bin.ts';
import { SLAPD_PATH } from './support/slapd.ts';

const PROBE_MS = 2_000;

/** What is wrong, or nothing when the prerequisite is there. */
type Probe = () => Promise<string | undefined>;

const withoutPassword = (url: string) => {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return '(not a URL)';
  }
};

function timeBound<T>(work: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout;
  const late = new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new Error(`${what} did not answer within ${PROBE_MS / 1000} s`)), PROBE_MS); });
  return Promise.race([work, late]).finally(() => clearTimeout(timer));
}

const executable = (path: string) => {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
};

const onPath = (command: string) => (process.env.PATH ?? '').split(delimiter).some((dir) => dir && executable(join(dir, command)));

const postgres: Probe = async () => {
  const client = new pg.Client({ connectionString: POSTGRES_URL, connectionTimeoutMillis: PROBE_MS });
  client.on('error', () => {});
  try {
    await timeBound(client.connect(), 'Postgres');
    // Each test file makes a database of its own.
    const { rows } = await timeBound(client.query<{ ok: boolean }>('SELECT rolcreatedb OR rolsuper AS ok FROM pg_roles WHERE rolname = current_user'), 'Postgres');
    if (!rows[0]?.ok) return `Postgres at ${withoutPassword(POSTGRES_URL)}: its user cannot create databases (ALTER ROLE ... CREATEDB), or set TEST_DATABASE_URL to a user that can`;
    return undefined;
  } catch (err) {
    return `Postgres is not reachable at ${withoutPassword(POSTGRES_URL)} (${(err as Error).message}): apt-get install postgresql, start it (pg_ctlcluster <version> main start) with trust authentication and a database "test" (createdb -U postgres test), or set TEST_DATABASE_URL`;
  } finally {
    client.end().catch(() => {});
  }
};

const redis: Probe = async () => {
  const client = new Redis(REDIS_BASE_URL, { lazyConnect: true, connectTimeout: PROBE_MS, maxRetriesPerRequest: 0, retryStrategy: () => null, enableOfflineQueue: false });
  let cause: Error | undefined;
  client.on('error', (err: Error) => { cause ??= err; });
  try {
    await timeBound(client.connect().then(() => client.ping()), 'Redis');
    return undefined;
  } catch (err) {
    return `Redis is not reachable at ${withoutPassword(REDIS_BASE_URL)} (${(cause ?? err as Error).message}): apt-get install redis-server, start it (redis-server --daemonize yes), or set TEST_REDIS_URL`;
  } finally {
    client.disconnect();
  }
};

const chromium: Probe = async () => executable(CHROMIUM_PATH)
  ? undefined
  : `Chromium is not at ${CHROMIUM_PATH} (the browser tests drive it): apt-get install chromium, or set CHROMIUM_PATH`;

const redisServer: Probe = async () => onPath('redis-server')
  ? undefined
  : 'redis-server is not on PATH (the fault tests start Redis servers of their own): apt-get install redis-server';

const slapd: Probe = async () => executable(SLAPD_PATH) && onPath('openssl')
  ? undefined
  : `slapd is not at ${SLAPD_PATH} or openssl is not on PATH (the LDAP tests start a directory of their own): apt-get install slapd ldap-utils openssl, or set SLAPD_PATH`;

const postgresServer: Probe = async () => {
  const bin = postgresBinDir();
  const missing = ['initdb', 'postgres'].filter((name) => !executable(join(bin, name)));
  if (missing.length > 0) {
    return `${missing.join(' and ')} not found in ${bin} (the fault tests start Postgres clusters of their own): apt-get install postgresql, or set TEST_PG_BIN to the folder holding them`;
  }
  // initdb refuses root: run as root, the fault tests run it as the postgres user.
  if (process.getuid?.() === 0) {
    try {
      execFileSync('id', ['-u', 'postgres'], { stdio: 'pipe', timeout: PROBE_MS });
    } catch {
      return 'no "postgres" user (run as root, the fault tests start initdb as that user): apt-get install postgresql creates it';
    }
  }
  return undefined;
};

const problems = (await Promise.all([postgres, redis, chromium, redisServer, postgresServer, slapd].map((probe) => probe()))).filter((p): p is string => p !== undefined);
if (problems.length > 0) {
  for (const problem of problems) process.stderr.write(`missing: ${problem}\n`);
  process.stderr.write(`npm test stopped before the suite: ${problems.length} prerequisite(s) missing (README.md, "Tests").\n`);
  process.exit(1);
}
process.stdout.write('test prerequisites: Postgres, Redis, Chromium, redis-server, initdb, postgres and slapd are there\n');
process.exit(0);
