/** What a shutdown keeps, of its time, for flushing the queued writes and closing the stores. */
const FLUSH_RESERVE_MS = 5_000;

/**
 * How long open connections may take to finish within a shutdown of `timeoutSeconds`: all of it
 * but the flush's reserve (5 s, or half of a shorter timeout).
 */
export function drainLimitMs(timeoutSeconds: number): number {
  const totalMs = timeoutSeconds * 1000;
  return totalMs - Math.min(FLUSH_RESERVE_MS, totalMs / 2);
}
