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

/** The raw (not aggregated) result of one autocannon run, as `skipAggregateResult` gives it. */
export interface RawResult { totalCompletedRequests: number; duration: number; errors: number; timeouts: number; non2xx: number }

/** autocannon's own merge of raw results (histograms and counts); its types do not declare it. */
export const aggregate = (raw: RawResult[], url: string, connections: number): autocannon.Result =>
  (autocannon as unknown as { aggregateResult(results: RawResult[], opts: autocannon.Options): autocannon.Result }).aggregateResult(raw, { url, connections });

/** Several runs of one scenario against one server, as one measurement. */
export class Runs {
  readonly #raw: RawResult[] = [];
  #peakRssMb = 0;

  readonly #url: string;
  readonly #connections: number;

  constructor(url: string, connections: number) {
    this.#url = url;
    this.#connections = connections;
  }

  add(raw: RawResult, peakRssMb: number): void {
    this.#raw.push(raw);
    this.#peakRssMb = Math.max(this.#peakRssMb, peakRssMb);
  }

  measurement(): Measurement {
    const all = aggregate(this.#raw, this.#url, this.#connections);
    const requests = this.#raw.reduce((n, r) => n + r.totalCompletedRequests, 0);
    const seconds = this.#raw.reduce((t, r) => t + r.duration, 0);
    return measurementOf(all, requests, requests / (seconds || 1), this.#peakRssMb);
  }
}

/** One autocannon run against the server with process id `pid`, added to `runs` with the RSS peak seen meanwhile. */
export async function loadInto(runs: Runs, pid: number, options: autocannon.Options): Promise<void> {
  const { result, peakRssMb } = await withPeakRss(pid, () => autocannon({ ...options, skipAggregateResult: true }));
  runs.add(result as unknown as RawResult, peakRssMb);
}
