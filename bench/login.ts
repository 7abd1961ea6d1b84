import { AgentBrowser, authorizationRequest, PERSON_AGENTS, signInAs, webClient } from './browsers.ts';
import { cpuMs, withPeakRss } from './process-stats.ts';
import type { Target } from './target.ts';

export interface LoginMeasurement {
  logins: number;
  seconds: number;
  loginsPerSecond: number;
  /** logins/s divided by the cores of the machine (the server's argon2 runs on libuv's pool, over every core). */
  loginsPerSecondPerCore: number;
  p50: number;
  p99: number;
  /** The server's CPU time per login (ms): argon2 included. */
  serverCpuMsPerLogin: number;
  failed: number;
  firstError?: string;
  peakRssMb: number;
}

const percentile = (sorted: number[], p: number) => sorted.length ? sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] : 0;

/**
 * Sign-ins, for `seconds`, by `concurrency` people at once: each a fresh browser (no session)
 * walking the authorization request, the login page, the password POST (argon2id verify) and
 * consent, until the redirect to the client with a code. Accounts take turns.
 */
export async function measureLogins(target: Target, accounts: number, seconds: number, concurrency: number, cores: number): Promise<LoginMeasurement> {
  const client = await webClient(target);
  const latencies: number[] = [];
  let failed = 0;
  let firstError: string | undefined;
  let next = 0;
  const cpu0 = cpuMs(target.pid);
  const started = performance.now();
  const deadline = started + seconds * 1000;
  const { peakRssMb } = await withPeakRss(target.pid, () => Promise.all(Array.from({ length: concurrency }, async () => {
    while (performance.now() < deadline) {
      const account = next++ % accounts;
      const { url } = await authorizationRequest(client);
      const t0 = performance.now();
      try {
        const callback = await signInAs(client, new AgentBrowser(PERSON_AGENTS[account % PERSON_AGENTS.length]), account, url);
        if (!new URL(callback).searchParams.has('code')) throw new Error(`no code: ${callback}`);
        latencies.push(performance.now() - t0);
      } catch (err) {
        failed += 1;
        firstError ??= (err as Error).message.slice(0, 500);
      }
    }
  })));
  const elapsed = (performance.now() - started) / 1000;
  const serverMs = cpuMs(target.pid) - cpu0;
  latencies.sort((a, b) => a - b);
  const logins = latencies.length;
  return {
    logins, seconds: elapsed, loginsPerSecond: logins / elapsed, loginsPerSecondPerCore: logins / elapsed / cores,
    p50: Math.round(percentile(latencies, 50)), p99: Math.round(percentile(latencies, 99)),
    serverCpuMsPerLogin: logins ? serverMs / logins : 0, failed, ...(firstError ? { firstError } : {}), peakRssMb,
  };
}
