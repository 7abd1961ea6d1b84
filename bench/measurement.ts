import autocannon from 'autocannon';
import { withPeakRss } from './process-stats.ts';

/** One scenario's result against one server. */
export interface Measurement {
  requests: number;
  rps: number;
  p50: number;
  p99: number;
  errors: number;
  non2xx: number;
  /** The server's highest RSS seen during the run, in MB. */
  peakRssMb: number;
  statusCodes: Record<string, number>;
}

export const statusCounts = (result: autocannon.Result): Record<string, number> =>
  Object.fromEntries(Object.entries(result.statusCodeStats ?? {}).map(([code, s]) => [code, (s as { count: number }).count]));

export function measurementOf(result: autocannon.Result, requests: number, rps: number, peakRssMb: number): Measurement {
  return {
    requests, rps, p50: result.latency.p50, p99: result.latency.p99,
    errors: result.errors + result.timeouts, non2xx: result.non2xx, peakRssMb, statusCodes: statusCounts(result),
  };
}

/** An autocannon run against the server with process id `pid`, sampling its RSS meanwhile. */
export async function load(pid: number, options: autocannon.Options): Promise<Measurement> {
  const { result, peakRssMb } = await withPeakRss(pid, () => autocannon(options));
  return measurementOf(result, result.requests.total, result.requests.total / (result.duration || 1), peakRssMb);
}
