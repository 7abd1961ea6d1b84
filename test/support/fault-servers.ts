/**
 * Store servers of a test's own, on free ports, for fault tests that kill them: a `redis-server`
 * and a throwaway Postgres cluster (`initdb`). Never the machine's shared servers. Each is killed
 * with SIGKILL (a crash, not a shutdown) and started again on the same port and data; `destroy()`
 * kills it and removes what it wrote, whatever state it is in.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { chownSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { Redis } from 'ioredis';
import { freePort } from './vigil-process.ts';
import { postgresBinDir } from './postgres-bin.ts';

export interface FaultServer {
  url: string;
  port: number;
  /** SIGKILL to the server and every process it started; resolves once they are gone. */
  kill(): Promise<void>;
  /** Starts it again (same port, same data) and waits until it answers. */
  start(): Promise<void>;
  /** Kills it (if running) and removes its files. */
  destroy(): Promise<void>;
}

/** A child in a process group of its own, so that a kill reaches everything it started. */
function spawnGroup(command: string, args: string[], cwd: string, user: { uid?: number; gid?: number } = {}): { child: ChildProcess; exited: Promise<void>; output: () => string } {
  const child = spawn(command, args, { cwd, detached: true, stdio: ['ignore', 'pipe', 'pipe'], ...user });
  let out = '';
  child.stdout!.on('data', (d) => { out += d; });
  child.stderr!.on('data', (d) => { out += d; });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return { child, exited, output: () => out };
}

async function killGroup(running: { child: ChildProcess; exited: Promise<void> } | undefined): Promise<void> {
  if (!running || running.child.exitCode !== null || running.child.signalCode !== null) return;
  try {
    process.kill(-running.child.pid!, 'SIGKILL');
  } catch {
    // Gone already.
  }
  await running.exited;
}

async function waitUntil(ready: () => Promise<boolean>, what: string, output: () => string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await ready().catch(() => false))) {
    if (Date.now() > deadline) throw new Error(`${what} did not start in time:\n${output()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** A `redis-server` without persistence: after a kill it comes back empty, as a crashed cache does. */
export async function startRedisServer(): Promise<FaultServer> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'vigil-fault-redis-'));
  let running: ReturnType<typeof spawnGroup> | undefined;
  const start = async () => {
    running = spawnGroup('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir], dir);
    const current = running;
    await waitUntil(async () => {
      if (current.child.exitCode !== null) throw new Error(`redis-server exited:\n${current.output()}`);
      const probe = new Redis(port, '127.0.0.1', { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
      probe.on('error', () => {});
      try {
        await probe.connect();
        return (await probe.ping()) === 'PONG';
      } finally {
        probe.disconnect();
      }
    }, `redis-server on port ${port}`, current.output);
  };
  const kill = () => killGroup(running);
  try {
    await start();
  } catch (err) {
    await kill();
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  return {
    url: `redis://127.0.0.1:${port}/0`, port, kill, start,
    async destroy() {
      await kill();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

const PG_BIN = postgresBinDir();

/**
 * A Postgres cluster of its own (initdb refuses root: run as root, it runs as the `postgres` user,
 * with its data in a temporary folder that user owns), trust authentication, on 127.0.0.1 only.
 */
export async function startPostgresCluster(): Promise<FaultServer> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'vigil-fault-pg-'));
  const user = process.getuid?.() === 0
    ? { uid: Number(execFileSync('id', ['-u', 'postgres']).toString().trim()), gid: Number(execFileSync('id', ['-g', 'postgres']).toString().trim()) }
    : {};
  if (user.uid !== undefined) chownSync(dir, user.uid, user.gid!);
  const data = join(dir, 'data');
  let running: ReturnType<typeof spawnGroup> | undefined;
  const kill = () => killGroup(running);
  const destroy = async () => {
    await kill();
    rmSync(dir, { recursive: true, force: true });
  };
  const url = `postgres://postgres@127.0.0.1:${port}/postgres`;
  const start = async () => {
    running = spawnGroup(join(PG_BIN, 'postgres'), [
      '-D', data, '-p', String(port), '-k', dir, '-c', 'listen_addresses=127.0.0.1',
      '-c', 'fsync=off', '-c', 'max_connections=50',
    ], dir, user);
    const current = running;
    await waitUntil(async () => {
      if (current.child.exitCode !== null) throw new Error(`postgres exited:\n${current.output()}`);
      const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 1000 });
      client.on('error', () => {});
      try {
        await client.connect();
        await client.query('SELECT 1');
        return true;
      } finally {
        await client.end().catch(() => {});
      }
    }, `postgres on port ${port}`, current.output, 30_000);
  };
  try {
    execFileSync(join(PG_BIN, 'initdb'), ['-D', data, '-A', 'trust', '-U', 'postgres', '--no-sync', '-E', 'UTF8', '--locale=C'], { cwd: dir, stdio: 'pipe', timeout: 60_000, ...user });
    await start();
  } catch (err) {
    await destroy();
    throw err;
  }
  return { url, port, kill, start, destroy };
}
