/**
 * Round trips per sign-in: a production Vigil on Postgres and Redis signs in BENCH_LOGINS people
 * (30) one after another, each a fresh browser walking the login and consent pages, while
 * `strace` counts the server's socket writes by peer — Postgres, Redis and the browser (one per
 * response). Unlike CPU time, these counts do not move with the machine's load: a change that
 * saves a query shows here exactly. Needs strace (and ptrace rights over the server).
 *
 *   npm run bench:login-round-trips
 *   BENCH_LOGIN_STATEMENTS=1 npm run bench:login-round-trips   # and what each write to Postgres or Redis began with
 *   BENCH_CHECKOUT=/tmp/before npm run bench:login-round-trips # another checkout's server (as bench:ab's BENCH_A_CHECKOUT)
 */
import { spawn } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { AgentBrowser, authorizationRequest, PERSON_AGENTS, signInAs, webClient } from './browsers.ts';
import { cpuMs } from './process-stats.ts';
import { startVigilTarget } from './vigil-target.ts';

const LOGINS = Number(process.env.BENCH_LOGINS ?? 30);
const ACCOUNTS = 10;
const PORTS: Record<string, string> = { 5432: 'Postgres', 6379: 'Redis' };

/** Each write's peer, and the first bytes it sent, from `strace -yy -s 80` lines. */
function writesByPeer(trace: string): { peer: string; head: string }[] {
  const writes: { peer: string; head: string }[] = [];
  for (const line of trace.split('\n')) {
    const m = /\b(?:write|writev)\(\d+<TCP:\[[\d.]+:\d+->[\d.]+:(\d+)\]>, (.*)$/.exec(line);
    if (m) writes.push({ peer: PORTS[m[1]] ?? 'browser', head: m[2].replace(/\\[0-9x]+[0-9a-f]*/g, ' ').replace(/iov_base=|[[{"]/g, '').slice(0, 90) });
  }
  return writes;
}

const target = await startVigilTarget('Vigil', ACCOUNTS, {}, process.env.BENCH_CHECKOUT ? resolve(process.env.BENCH_CHECKOUT) : undefined);
const out = join(tmpdir(), `vigil-login-trace-${process.pid}.txt`);
try {
  const client = await webClient(target);
  const signIn = async (i: number) => {
    const { url } = await authorizationRequest(client);
    const callback = await signInAs(client, new AgentBrowser(PERSON_AGENTS[i % PERSON_AGENTS.length]), i % ACCOUNTS, url);
    if (!new URL(callback).searchParams.has('code')) throw new Error(`no code: ${callback}`);
  };
  // Warm: every account signed in once, the client's metadata and the prepared statements in place.
  for (let i = 0; i < ACCOUNTS; i++) await signIn(i);
  const strace = spawn('strace', ['-f', '-yy', '-s', '80', '-e', 'trace=write,writev', '-o', out, '-p', String(target.pid)], { stdio: ['ignore', 'ignore', 'pipe'] });
  await new Promise<void>((resolve, reject) => {
    strace.once('error', reject);
    strace.stderr.on('data', (d: Buffer) => { if (/attached/.test(d.toString())) resolve(); });
    strace.once('exit', (code) => reject(new Error(`strace exited with ${code} (is it installed, may it trace this process?)`)));
  });
  const cpu0 = cpuMs(target.pid);
  for (let i = 0; i < LOGINS; i++) await signIn(i);
  const cpu = (cpuMs(target.pid) - cpu0) / LOGINS;
  strace.kill('SIGINT');
  await new Promise((resolve) => strace.once('exit', resolve));
  const writes = writesByPeer(readFileSync(out, 'utf8'));
  const per = (peer: string) => (writes.filter((w) => w.peer === peer).length / LOGINS).toFixed(1);
  if (process.env.BENCH_LOGIN_STATEMENTS) {
    const counts = new Map<string, number>();
    for (const w of writes) {
      if (w.peer === 'browser') continue;
      const key = `${w.peer}: ${w.head.replace(/[A-Za-z0-9_-]{20,}/g, '…')}`;
      counts.set(key, (counts.get(key) ?? 0) + 1);
    }
    for (const [what, n] of [...counts].sort((a, b) => b[1] - a[1])) console.log(`${(n / LOGINS).toFixed(2).padStart(6)}  ${what}`);
  }
  console.log(`${LOGINS} sign-ins, per sign-in: ${per('Postgres')} writes to Postgres, ${per('Redis')} to Redis, ${per('browser')} responses; server CPU ${cpu.toFixed(1)} ms (under strace)`);
} finally {
  rmSync(out, { force: true });
  await target.stop();
}
