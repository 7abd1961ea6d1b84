/**
 * What the overview charts: four kinds of audit entry counted per hour over the last day and per
 * day over the last week. Each entry's kind is the `activity` column of audit_log (computed by the
 * database, migrations/016_audit_activity.sql): the counts and the audit list's `kind` filter read
 * the same column, so a card's link lists exactly what it counted.
 */

export const ACTIVITY_KINDS = ['sign_in', 'challenge', 'denial', 'revocation'] as const;
export type ActivityKind = (typeof ACTIVITY_KINDS)[number];

/** What each kind counts, as the console and docs/admin-api.md say it. */
export const ACTIVITY_LABELS: Record<ActivityKind, { title: string; counts: string }> = {
  sign_in: { title: 'Sign-ins', counts: 'sign-ins completed (action login, outcome success)' },
  challenge: { title: 'Challenges', counts: 'a stronger sign-in asked by the risk policy (risk.login mfa, risk.refresh step_up)' },
  denial: { title: 'Denials', counts: 'sign-ins refused (action login, outcome denied: risk, rate limit, disabled account)' },
  revocation: { title: 'Revocations', counts: 'revocations that ended a session, a grant or tokens' },
};

export type ActivityWindow = 'day' | 'week';

const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;
const WINDOWS: Record<ActivityWindow, { stepMs: number; buckets: number }> = {
  day: { stepMs: HOUR_MS, buckets: 24 },
  week: { stepMs: DAY_MS, buckets: 7 },
};

export interface ActivityBuckets {
  window: ActivityWindow;
  /** The first bucket's start (inclusive). */
  from: Date;
  /** The last bucket's end (exclusive). */
  to: Date;
  stepMs: number;
  starts: Date[];
}

/**
 * The buckets of a window ending with the one that holds `until`: whole UTC hours (day) or whole
 * UTC days (week), the current, unfinished one last.
 */
export function activityBuckets(window: ActivityWindow, until: number): ActivityBuckets {
  const { stepMs, buckets } = WINDOWS[window];
  const to = Math.floor(until / stepMs) * stepMs + stepMs;
  const from = to - buckets * stepMs;
  return {
    window, from: new Date(from), to: new Date(to), stepMs,
    starts: Array.from({ length: buckets }, (_, i) => new Date(from + i * stepMs)),
  };
}
