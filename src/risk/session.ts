/**
 * Session continuity at refresh: a session whose network changes between refreshes while its
 * device and agent stay the same is the signature of a replayed stolen token (or of a phone
 * moving between carrier addresses). The evidence is weighed against how this person's sessions
 * on this kind of device usually move: phones hop, computers stay put.
 */
import { haversineKm } from './geo-velocity.ts';
import { lastSessionEvent } from './history.ts';
import { ipPrefix } from './ip.ts';
import { DEFAULT_SCORING, formatDuration, type ScoringConfig } from './scoring.ts';
import type { GeoLocation, HistoryEvent, RiskContext, RiskHistory, Signal } from './types.ts';
import { parseUserAgent } from './ua.ts';

const isHandheld = (deviceType: string) => deviceType === 'mobile' || deviceType === 'tablet';

/**
 * How often this account's recorded refreshes on handheld (or other) devices changed network
 * within a session: consecutive events of one session, and how many of them moved.
 */
export function sessionMoves(events: readonly HistoryEvent[], handheld: boolean): { pairs: number; moves: number } {
  let pairs = 0;
  let moves = 0;
  const last = new Map<string, HistoryEvent>();
  for (const e of events) {
    if (e.sessionId === undefined || isHandheld(e.deviceType) !== handheld) continue;
    const before = last.get(e.sessionId);
    if (before) {
      pairs++;
      if (before.ipPrefix !== e.ipPrefix) moves++;
    }
    last.set(e.sessionId, e);
  }
  return { pairs, moves };
}

/**
 * At least `needed` of the account's precisely located events were in the area of `geo` (their
 * distance after both radii within 1 km). A rough location (a carrier's) covers whole regions: it
 * makes no place familiar.
 */
function familiarArea(geo: GeoLocation, events: readonly HistoryEvent[], needed: number, roughKm: number): boolean {
  let found = 0;
  for (const e of events) {
    if (e.lat === undefined || e.lon === undefined || e.accuracyKm === undefined || e.accuracyKm >= roughKm) continue;
    if (haversineKm(geo.lat, geo.lon, e.lat, e.lon) - geo.accuracyKm - e.accuracyKm <= 1 && ++found >= needed) return true;
  }
  return false;
}

export function sessionSignals(ctx: RiskContext, history: RiskHistory, config: ScoringConfig['session'] = DEFAULT_SCORING.session): Signal[] {
  if (ctx.type !== 'refresh' || ctx.ipIsUser === false) return [];
  const before = lastSessionEvent(history, ctx.sessionId, ctx.time);
  const prefix = ipPrefix(ctx.ip);
  if (!before || before.ipPrefix === prefix) return [];
  const ua = ctx.ua ?? parseUserAgent(ctx.userAgent);
  const handheld = isHandheld(ua.deviceType);
  const { pairs, moves } = sessionMoves(history.accountEvents, handheld);
  // A phone hops between carrier addresses (located only roughly), networks the person uses and
  // places the person goes; a precise new network somewhere the person does not go is not a hop.
  const geo = ctx.geo;
  const hop = (history.accountStats.counts.ip.get(prefix) ?? 0) > 0 || geo === undefined || geo.accuracyKm >= config.roughAccuracyKm
    || familiarArea(geo, history.accountEvents, config.familiarAfter, config.roughAccuracyKm);
  const asHandheld = handheld && hop;
  const prior = asHandheld ? config.mobilePrior : config.desktopPrior;
  const moveRate = asHandheld ? (moves + config.priorWeight * prior) / (pairs + config.priorWeight) : prior;
  const contribution = Math.round(config.movedPoints * (1 - moveRate) * 10) / 10;
  const elsewhere = geo && before.lat !== undefined && before.lon !== undefined && before.accuracyKm !== undefined
    && haversineKm(geo.lat, geo.lon, before.lat, before.lon) - geo.accuracyKm - before.accuracyKm > 1;
  const from = `${before.city ?? before.country ?? 'an unknown place'} (${before.ipPrefix})`;
  const to = `${geo?.city ?? geo?.country ?? 'an unknown place'} (${prefix})`;
  const since = ctx.lastRefreshAt !== undefined && ctx.lastRefreshAt <= ctx.time ? ` ${formatDuration(ctx.time - ctx.lastRefreshAt)} after its last refresh` : '';
  const kind = handheld ? 'phone and tablet' : 'computer';
  const habit = handheld && !hop
    ? 'a network this account has not used, located precisely, in a place it does not go: not a hop between carrier addresses'
    : pairs > 0
      ? `this account's ${kind} sessions changed network at ${moves} of ${pairs} recorded refreshes`
      : `no ${kind} session of this account on record yet, ${handheld ? 'phones usually hop' : 'computers usually stay put'}`;
  return [{
    name: 'session_moved',
    contribution,
    reason: `Session moved ${elsewhere ? 'to another place' : 'to another network'}${since}: ${from} → ${to}; ${habit}`,
  }];
}
