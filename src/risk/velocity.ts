/**
 * Abuse velocity: failed logins per account (except at a sign-in from one of the account's known
 * devices) and per address in recent windows, and refreshes much sooner than the access token's
 * lifetime explains.
 */
import { DEFAULT_SCORING, formatDuration, type FailureWindow, type ScoringConfig } from './scoring.ts';
import type { RiskContext, RiskHistory, Signal } from './types.ts';

/** Failures in (time − window, time]; `times` sorted oldest first. */
export function countSince(times: readonly number[], time: number, windowMs: number): number {
  let n = 0;
  for (let i = times.length - 1; i >= 0; i--) {
    const t = times[i];
    if (t > time) continue;
    if (t <= time - windowMs) break;
    n++;
  }
  return n;
}

/** The highest step reached in any window, with its count and window. */
export function failurePoints(times: readonly number[], time: number, windows: readonly FailureWindow[]): { points: number; count: number; windowMinutes: number } {
  let best = { points: 0, count: 0, windowMinutes: 0 };
  for (const window of windows) {
    const n = countSince(times, time, window.windowMinutes * 60_000);
    for (const step of window.steps) {
      if (n >= step.atLeast && step.points > best.points) best = { points: step.points, count: n, windowMinutes: window.windowMinutes };
    }
  }
  return best;
}

function windowText(minutes: number): string {
  return minutes % 60 === 0 ? `${minutes / 60} h` : `${minutes} min`;
}

export function velocitySignals(ctx: RiskContext, history: RiskHistory, config: ScoringConfig['velocity'] = DEFAULT_SCORING.velocity): Signal[] {
  const signals: Signal[] = [];
  const account = failurePoints(history.failuresByAccount, ctx.time, config.accountFailures);
  // Failures for the account say someone is guessing its password; a sign-in from a browser the
  // account has signed in from before is not that someone. Counting them there would let anyone
  // who types wrong passwords lock the owner out of an account that has no second factor.
  const ownersDevice = ctx.type === 'login' && ctx.deviceId !== undefined && history.accountStats.counts.device.has(ctx.deviceId);
  if (account.points > 0 && !ownersDevice) {
    signals.push({
      name: 'failed_logins_account',
      contribution: account.points,
      reason: `${account.count} failed logins for this account in the last ${windowText(account.windowMinutes)}`,
    });
  }
  if (ctx.ipIsUser !== false) {
    const ip = failurePoints(history.failuresByIp, ctx.time, config.ipFailures);
    if (ip.points > 0) {
      signals.push({
        name: 'failed_logins_ip',
        contribution: ip.points,
        reason: `${ip.count} failed logins from ${ctx.ip} in the last ${windowText(ip.windowMinutes)}`,
      });
    }
  }
  if (ctx.type === 'refresh' && ctx.lastRefreshAt !== undefined && ctx.accessTokenTtlSeconds !== undefined && ctx.accessTokenTtlSeconds > 0) {
    const elapsed = ctx.time - ctx.lastRefreshAt;
    const expected = ctx.accessTokenTtlSeconds * 1000;
    if (elapsed >= 0 && elapsed < expected * config.rapidRefreshFraction) {
      signals.push({
        name: 'rapid_refresh',
        contribution: config.rapidRefreshPoints,
        reason: `Refreshed ${formatDuration(elapsed)} after the previous refresh, while access tokens last ${formatDuration(expected)}`,
      });
    }
  }
  return signals;
}
