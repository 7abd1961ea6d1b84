/**
 * Building a risk history by folding events into it (replay, tests, the evaluation), and the
 * feature values the behaviour model counts. Pure: `recordEvent` returns a new history and leaves
 * its input untouched; `recordEventInPlace` is the same fold mutating the history it is given
 * (and the population table the history points to), for replays of many events.
 */
import { ipPrefix } from './ip.ts';
import { parseUserAgent } from './ua.ts';
import { FEATURES, type Feature, type FeatureStats, type HistoryEvent, type PopulationStats, type RiskContext, type RiskHistory } from './types.ts';

export interface HistoryLimits {
  /** Recent events kept per account. */
  maxEvents: number;
  /** Distinct values kept per feature per account; the rarest are dropped beyond it. */
  maxAccountValues: number;
  /** Distinct values kept per feature in the population table. */
  maxPopulationValues: number;
  /** Failures older than this (relative to the newest) are forgotten. */
  failureWindowMs: number;
  maxFailures: number;
}

export const DEFAULT_LIMITS: HistoryLimits = {
  maxEvents: 50,
  maxAccountValues: 64,
  maxPopulationValues: 200_000,
  failureWindowMs: 24 * 3600_000,
  maxFailures: 200,
};

export type FeatureValues = Record<Feature, string | undefined>;

/** Hour of day (0–23) of `time` in a zone `offsetMinutes` east of UTC. */
export function localHour(time: number, offsetMinutes: number): number {
  const minuteOfDay = ((Math.floor(time / 60_000) + offsetMinutes) % 1440 + 1440) % 1440;
  return Math.floor(minuteOfDay / 60);
}

/** A time zone guessed from a longitude (15° per hour), in minutes east of UTC. */
export function timezoneOffsetFromLongitude(lon: number): number {
  const hours = Math.max(-12, Math.min(14, Math.round(lon / 15)));
  return hours === 0 ? 0 : hours * 60; // never -0
}

/** The account's usual zone; for an account with none yet, the zone of this event's place. */
export function accountTimezone(history: Pick<RiskHistory, 'timezoneOffsetMinutes'>, lon: number | undefined): number {
  if (history.timezoneOffsetMinutes !== undefined) return history.timezoneOffsetMinutes;
  return lon === undefined ? 0 : timezoneOffsetFromLongitude(lon);
}

/** The event a context becomes once it is recorded as a successful sign-in or refresh. */
export function eventFromContext(ctx: RiskContext, history: Pick<RiskHistory, 'timezoneOffsetMinutes'>): HistoryEvent {
  const ua = ctx.ua ?? parseUserAgent(ctx.userAgent);
  const geo = ctx.ipIsUser === false ? undefined : ctx.geo;
  const event: HistoryEvent = {
    time: ctx.time,
    ipPrefix: ctx.ipIsUser === false ? 'server' : ipPrefix(ctx.ip),
    browser: ua.browser,
    os: ua.os,
    deviceType: ua.deviceType,
    hour: localHour(ctx.time, accountTimezone(history, geo?.lon)),
  };
  if (geo) {
    event.country = geo.country;
    if (geo.region !== undefined) event.region = geo.region;
    if (geo.city !== undefined) event.city = geo.city;
    event.lat = geo.lat;
    event.lon = geo.lon;
    event.accuracyKm = geo.accuracyKm;
  }
  if (ctx.deviceId !== undefined) event.deviceId = ctx.deviceId;
  if (ctx.sessionId !== undefined) event.sessionId = ctx.sessionId;
  if (ctx.networkTags && ctx.networkTags.length > 0 && ctx.ipIsUser !== false) event.networkTags = [...ctx.networkTags];
  return event;
}

/** The value of every behaviour feature for an event (undefined: the feature is absent). */
export function featureValues(event: HistoryEvent): FeatureValues {
  const country = event.country ?? '?';
  return {
    ip: event.ipPrefix,
    region: `${country}/${event.region ?? '?'}`,
    country,
    agent: `${event.browser}/${event.os}`,
    browser: event.browser,
    os: event.os,
    deviceType: event.deviceType,
    device: event.deviceId,
    hour: String(event.hour),
    daypart: String(Math.floor(event.hour / 6)),
  };
}

function emptyCounts(): Record<Feature, Map<string, number>> {
  const counts = {} as Record<Feature, Map<string, number>>;
  for (const feature of FEATURES) counts[feature] = new Map();
  return counts;
}

export function emptyStats(): FeatureStats {
  return { total: 0, counts: emptyCounts() };
}

export function emptyPopulation(): PopulationStats {
  return { total: 0, accounts: 0, counts: emptyCounts() };
}

/** A history with nothing in it, sharing `population` (a fresh one by default). */
export function emptyHistory(population: PopulationStats = emptyPopulation()): RiskHistory {
  return { accountEvents: [], accountStats: emptyStats(), populationStats: population, failuresByAccount: [], failuresByIp: [] };
}

/** Drops the rarest values (ties: the greatest key) until the table holds 80% of `max`. */
function prune(table: Map<string, number>, max: number): void {
  if (table.size <= max) return;
  const keep = Math.floor(max * 0.8);
  const entries = [...table.entries()].sort((a, b) => a[1] - b[1] || (a[0] < b[0] ? 1 : a[0] > b[0] ? -1 : 0));
  for (let i = 0; i < entries.length - keep; i++) table.delete(entries[i][0]);
}

function count(stats: FeatureStats, values: FeatureValues, max: number): void {
  stats.total += 1;
  for (const feature of FEATURES) {
    const value = values[feature];
    if (value === undefined) continue;
    const table = stats.counts[feature];
    table.set(value, (table.get(value) ?? 0) + 1);
    if (table.size > max) prune(table, max);
  }
}

function copyStats<T extends FeatureStats>(stats: T): T {
  const counts = {} as Record<Feature, Map<string, number>>;
  for (const feature of FEATURES) counts[feature] = new Map(stats.counts[feature]);
  return { ...stats, counts };
}

/**
 * Folds a successful event into the account's part of the history, mutating it: appends to the
 * account's recent events (dropping the oldest beyond the limit), counts its features for the
 * account, and makes it the last good event. The population is left alone: a caller whose write of
 * the account may be refused (a concurrent write won) counts the event there only once it is kept
 * (`countInPopulation`), or the population would count one person's retried events many times
 * over and make that person look rarer than they are. Returns whether it is the account's first.
 */
export function recordAccountEvent(history: RiskHistory, event: HistoryEvent, limits: HistoryLimits = DEFAULT_LIMITS): boolean {
  const first = history.accountStats.total === 0;
  count(history.accountStats, featureValues(event), limits.maxAccountValues);
  history.accountEvents.push(event);
  if (history.accountEvents.length > limits.maxEvents) history.accountEvents.splice(0, history.accountEvents.length - limits.maxEvents);
  if (!history.lastGoodEvent || event.time >= history.lastGoodEvent.time) history.lastGoodEvent = event;
  if (history.timezoneOffsetMinutes === undefined && event.lon !== undefined) {
    history.timezoneOffsetMinutes = timezoneOffsetFromLongitude(event.lon);
  }
  return first;
}

/** Counts an event an account kept into the population table, mutating it (`firstOfAccount`: a new account). */
export function countInPopulation(population: PopulationStats, event: HistoryEvent, firstOfAccount: boolean, limits: HistoryLimits = DEFAULT_LIMITS): void {
  if (firstOfAccount) population.accounts += 1;
  count(population, featureValues(event), limits.maxPopulationValues);
}

/**
 * Folds a successful event into the history, mutating it: `recordAccountEvent`, then the same
 * event counted into the population table the history points to. Returns the same object.
 */
export function recordEventInPlace(history: RiskHistory, event: HistoryEvent, limits: HistoryLimits = DEFAULT_LIMITS): RiskHistory {
  const first = recordAccountEvent(history, event, limits);
  countInPopulation(history.populationStats, event, first, limits);
  return history;
}

/**
 * Whether a successful refresh is worth recording. Refreshes come every few minutes while an app
 * is open; recording each would fill the bounded history with one session's hours and push out the
 * account's other places and devices (and cost a write per refresh). So a refresh is recorded
 * unless an event of the account within `minIntervalMs` before it has the same network, device,
 * browser, OS and country — whichever of the person's devices that event came from — in the same
 * session (so each session's place is on record for `session_moved`). Logins are always recorded.
 */
export function shouldRecord(history: Pick<RiskHistory, 'accountEvents'>, event: HistoryEvent, type: 'login' | 'refresh', minIntervalMs = 3_600_000): boolean {
  if (type === 'login') return true;
  const events = history.accountEvents;
  for (let i = events.length - 1; i >= 0; i--) {
    const e = events[i];
    if (e.time > event.time) continue;
    if (event.time - e.time >= minIntervalMs) continue;
    if (e.ipPrefix === event.ipPrefix && e.deviceId === event.deviceId && e.browser === event.browser && e.os === event.os && e.country === event.country
      && e.sessionId === event.sessionId) {
      return false;
    }
  }
  return true;
}

/** The session's newest recorded event at or before `time` (undefined without a session or none on record). */
export function lastSessionEvent(history: Pick<RiskHistory, 'accountEvents'>, sessionId: string | undefined, time: number): HistoryEvent | undefined {
  if (sessionId === undefined) return undefined;
  const events = history.accountEvents;
  for (let i = events.length - 1; i >= 0; i--) {
    const e = events[i];
    if (e.sessionId === sessionId && e.time <= time) return e;
  }
  return undefined;
}

/** `recordEventInPlace` on a copy: the history passed in (and its population table) are unchanged. */
export function recordEvent(history: RiskHistory, event: HistoryEvent, limits: HistoryLimits = DEFAULT_LIMITS): RiskHistory {
  const copy: RiskHistory = {
    ...history,
    accountEvents: [...history.accountEvents],
    accountStats: copyStats(history.accountStats),
    populationStats: copyStats(history.populationStats),
    failuresByAccount: [...history.failuresByAccount],
    failuresByIp: [...history.failuresByIp],
  };
  return recordEventInPlace(copy, event, limits);
}

/** A failure list with `time` added, keeping only the window before the newest and at most `maxFailures`. New array. */
export function addFailure(times: readonly number[], time: number, limits: HistoryLimits = DEFAULT_LIMITS): number[] {
  const newest = Math.max(time, times.length > 0 ? times[times.length - 1] : time);
  const kept = times.filter((t) => t > newest - limits.failureWindowMs);
  let i = kept.length;
  while (i > 0 && kept[i - 1] > time) i--;
  kept.splice(i, 0, time);
  return kept.length > limits.maxFailures ? kept.slice(kept.length - limits.maxFailures) : kept;
}

/** `addFailure` on the account's failures: a new history (population shared, unchanged). */
export function recordFailure(history: RiskHistory, time: number, limits: HistoryLimits = DEFAULT_LIMITS): RiskHistory {
  return { ...history, failuresByAccount: addFailure(history.failuresByAccount, time, limits) };
}

/** Feature counts as plain JSON (for storing a history): `{ total, counts: { feature: [[value, count], …] } }`. */
export interface FeatureStatsJson {
  total: number;
  accounts?: number;
  counts: Partial<Record<Feature, [string, number][]>>;
}

export function statsToJson(stats: FeatureStats | PopulationStats): FeatureStatsJson {
  const counts: Partial<Record<Feature, [string, number][]>> = {};
  for (const feature of FEATURES) counts[feature] = [...stats.counts[feature].entries()];
  const json: FeatureStatsJson = { total: stats.total, counts };
  if ('accounts' in stats) json.accounts = stats.accounts;
  return json;
}

/** The inverse of `statsToJson`; unknown features are ignored, missing ones are empty. */
export function statsFromJson(json: FeatureStatsJson): PopulationStats {
  const stats = emptyPopulation();
  stats.total = json.total;
  stats.accounts = json.accounts ?? 0;
  for (const feature of FEATURES) {
    for (const [value, c] of json.counts[feature] ?? []) stats.counts[feature].set(value, c);
  }
  return stats;
}
