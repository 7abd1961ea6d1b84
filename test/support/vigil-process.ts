import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:net';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const NODE = process.execPath;
const NODE_FLAGS = ['--disable-warning=ExperimentalWarning'];

/**
 * What every process a test spawns inherits: PATH, HOME and, under jest, the run's compile cache
 * (test/support/compile-cache-setup.js) so that only the first process compiles Vigil's modules.
 */
export function baseEnv(): Record<string, string> {
  const cache = process.env.VIGIL_TEST_COMPILE_CACHE;
  return { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', ...(cache ? { NODE_COMPILE_CACHE: cache } : {}) };
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

export interface VigilProcess {
  url: string;
  issuer: string;
  env: Record<string, string>;
  pid: number;
  /** Everything the process wrote to stdout and stderr so far. */
  output(): string;
  /** Settles with the exit code once the process has exited (null when a signal ended it). */
  exited: Promise<number | null>;
  stop(): Promise<void>;
}

export function newMasterKey(): string {
  return randomBytes(32).toString('base64');
}

export function tempDir(prefix = 'vigil-test-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

/**
 * Starts `node src/main.ts` with the given environment and waits until it listens. `checkout`:
 * another copy of Vigil (a worktree of another commit) whose `src/main.ts` is started instead.
 */
export async function startVigil(env: Record<string, string>, options: { port?: number; timeoutMs?: number; checkout?: string } = {}): Promise<VigilProcess> {
  const port = options.port ?? await freePort();
  const issuer = env.ISSUER ?? `http://127.0.0.1:${port}`;
  const fullEnv: Record<string, string> = {
    ...baseEnv(),
    NODE_ENV: 'test',
    LOG_LEVEL: 'info',
    HOST: '127.0.0.1',
    PORT: String(port),
    ISSUER: issuer,
    // The tests' fetch then closes each connection after its response (undici drops a hint under
    // its 2 s margin), so a stop does not wait out idle keep-alive connections; shutdown tests set their own.
    VIGIL_HTTP_KEEP_ALIVE_SECONDS: '1',
    ...env,
  };
  const child: ChildProcess = spawn(NODE, [...NODE_FLAGS, join(options.checkout ?? ROOT, 'src/main.ts')], { cwd: fullEnv.VIGIL_CWD ?? ROOT, env: fullEnv, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  // New output (its "Vigil is listening" line, say) cuts the wait before the next probe short.
  let wake: (() => void) | undefined;
  const take = (d: Buffer) => {
    out += d;
    wake?.();
  };
  child.stdout!.on('data', take);
  child.stderr!.on('data', take);
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  // Ready when /healthz answers (works whatever LOG_LEVEL says), or failed when the process exits.
  let exitCode: number | null | undefined;
  exited.then((code) => { exitCode = code; });
  const deadline = Date.now() + (options.timeoutMs ?? 30_000);
  for (;;) {
    if (exitCode !== undefined) throw new Error(`Vigil exited with ${exitCode} before listening:\n${out}`);
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`Vigil did not start in time:\n${out}`);
    }
    const up = await fetch(`http://127.0.0.1:${port}/healthz`).then((r) => r.ok, () => false);
    if (up) break;
    await new Promise<void>((r) => {
      const timer = setTimeout(r, 100);
      wake = () => {
        clearTimeout(timer);
        r();
      };
    });
    wake = undefined;
  }
  return {
    url: `http://127.0.0.1:${port}`,
    issuer,
    env: fullEnv,
    pid: child.pid!,
    output: () => out,
    exited,
    stop: () => stopAndKeepLog(child, exited, `vigil-${port}.log`, () => out),
  };
}

/**
 * Stops a process (SIGTERM, unless it has exited) and keeps what it wrote, `log()` once it has
 * exited, as test-output/<logName>: for reading after a failure; CI shows where.
 */
export async function stopAndKeepLog(child: ChildProcess, exited: Promise<unknown>, logName: string, log: () => string): Promise<void> {
  if (child.exitCode === null) {
    child.kill('SIGTERM');
    await exited;
  }
  mkdirSync(join(ROOT, 'test-output'), { recursive: true });
  writeFileSync(join(ROOT, 'test-output', logName), log());
}

export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a script of the project (src/main.ts, src/cli.ts) to completion. */
export function runScript(script: string, args: string[], env: Record<string, string>, timeoutMs = 30_000): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(NODE, [...NODE_FLAGS, join(ROOT, script), ...args], {
      cwd: env.VIGIL_CWD ?? ROOT,
      env: { ...baseEnv(), NODE_ENV: 'test', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => { stdout += d; });
    child.stderr.on('data', (d) => { stderr += d; });
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${script} ${args.join(' ')} timed out\n${stdout}\n${stderr}`));
    }, timeoutMs);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** `vigil … --json`, parsed; fails the test with the CLI's own words when it exits non-zero. */
export async function vigilCli<T = Record<string, unknown>>(env: Record<string, string>, args: string[]): Promise<T> {
  const result = await runScript('src/cli.ts', [...args, '--json'], env);
  if (result.code !== 0) throw new Error(`vigil ${args.join(' ')} exited ${result.code}: ${result.stderr}`);
  return JSON.parse(result.stdout) as T;
}

/** Sends SIGHUP and waits for `line` to appear in the log after it; the log since the signal. */
export async function hangUp(vigil: VigilProcess, line: string, timeoutMs = 10_000): Promise<string> {
  const before = vigil.output().length;
  process.kill(vigil.pid, 'SIGHUP');
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const since = vigil.output().slice(before);
    if (since.includes(line)) return since;
    if (Date.now() > deadline) throw new Error(`no "${line}" in the log after SIGHUP:\n${since}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}
