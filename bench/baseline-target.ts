import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { join } from 'node:path';
import { freePort, ROOT } from '../test/support/vigil-process.ts';
import type { ClientInfo } from './accounts.ts';
import type { Target } from './target.ts';

interface Ready { ready: true; issuer: string; redirect: string; web: ClientInfo; rs: ClientInfo; machine: ClientInfo }

/**
 * Starts bench/baseline-server.ts with this process's node, NODE_ENV=production, and waits for
 * the line that says it listens. BENCH_BASELINE_NODE_OPTIONS become its NODE_OPTIONS.
 */
export async function startBaselineTarget(accounts: number, timeoutMs = 60_000): Promise<Target> {
  const port = await freePort();
  const child = spawn(process.execPath, ['--disable-warning=ExperimentalWarning', join(ROOT, 'bench/baseline-server.ts')], {
    cwd: ROOT,
    env: {
      PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', NODE_ENV: 'production', PORT: String(port), BASELINE_ACCOUNTS: String(accounts),
      ...(process.env.BENCH_BASELINE_NODE_OPTIONS ? { NODE_OPTIONS: process.env.BENCH_BASELINE_NODE_OPTIONS } : {}),
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let errors = '';
  child.stderr!.on('data', (d) => { errors += d; });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGTERM');
    const killer = setTimeout(() => child.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(killer);
  };

  const ready = await new Promise<Ready>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the baseline did not start in ${timeoutMs} ms:\n${errors}`)), timeoutMs);
    const lines = createInterface({ input: child.stdout! });
    lines.once('line', (line) => {
      clearTimeout(timer);
      try {
        resolve(JSON.parse(line) as Ready);
      } catch {
        reject(new Error(`the baseline said ${line}\n${errors}`));
      }
    });
    exited.then(() => {
      clearTimeout(timer);
      reject(new Error(`the baseline exited before listening:\n${errors}`));
    });
  }).catch(async (err: unknown) => {
    await stop();
    throw err;
  });
  return { label: 'baseline', url: `http://127.0.0.1:${port}`, issuer: ready.issuer, pid: child.pid!, redirect: ready.redirect, web: ready.web, rs: ready.rs, machine: ready.machine, stop };
}
