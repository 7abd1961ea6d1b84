import { readdirSync, readFileSync } from 'node:fs';

/** A process's resident memory now, in MB. */
export function rssMb(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Math.round(Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024);
}

const TICK_MS = 10; // Linux USER_HZ: 100 ticks a second

/** CPU time (user + system) a process has used, in ms. */
export function cpuMs(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\) /s, '').split(' ');
  return (Number(fields[11]) + Number(fields[12])) * TICK_MS;
}

/** CPU ms used so far by each process of that name (`postgres`, `redis-server`) on this machine. */
export function cpuByProcess(name: string): Map<number, number> {
  const out = new Map<number, number>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      if (stat.includes(`(${name})`)) out.set(Number(entry), cpuMs(Number(entry)));
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

/** CPU ms used so far by each of these processes (those gone left out). */
export function cpuOf(pids: Iterable<number>): Map<number, number> {
  const out = new Map<number, number>();
  for (const pid of pids) {
    try {
      out.set(pid, cpuMs(pid));
    } catch {
      // gone
    }
  }
  return out;
}

/**
 * CPU ms used between two readings, process by process: one started meanwhile counts from zero,
 * one gone meanwhile (a closed connection's backend) only up to the first reading, not negative.
 */
export function cpuGrowth(before: Map<number, number>, after: Map<number, number>): number {
  let total = 0;
  for (const [pid, ms] of after) total += ms - (before.get(pid) ?? 0);
  return total;
}

/** Measures the CPU every Postgres process on this machine (the server runs on loopback) uses from now on. */
export function postgresCpuMeter(): () => number {
  const before = cpuByProcess('postgres');
  return () => cpuGrowth(before, cpuByProcess('postgres'));
}

/**
 * Samples a process's RSS while a run goes on and keeps the highest: a single reading at the
 * end misses what the garbage collector gave back meanwhile.
 */
export class PeakRss {
  readonly #pid: number;
  readonly #timer: NodeJS.Timeout;
  #peak: number;

  constructor(pid: number, everyMs = 100) {
    this.#pid = pid;
    this.#peak = rssMb(pid);
    this.#timer = setInterval(() => this.#sample(), everyMs);
  }

  #sample(): void {
    try {
      this.#peak = Math.max(this.#peak, rssMb(this.#pid));
    } catch {
      // the process is gone: keep what was seen
    }
  }

  /** Stops sampling; the peak, including one last reading. */
  stop(): number {
    clearInterval(this.#timer);
    this.#sample();
    return this.#peak;
  }
}

/** Runs `work` while sampling the process's RSS; its result and the peak seen. */
export async function withPeakRss<T>(pid: number, work: () => Promise<T>): Promise<{ result: T; peakRssMb: number }> {
  const sampler = new PeakRss(pid);
  try {
    const result = await work();
    return { result, peakRssMb: sampler.stop() };
  } finally {
    sampler.stop();
  }
}
