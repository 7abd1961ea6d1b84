/**
 * Geo-velocity: how fast the person would have had to travel since the previous located
 * successful event, and how far this place is from every place the account has used.
 *
 * Distance is the great-circle distance minus both accuracy radii (never below zero), so two
 * fuzzy locations are given the benefit of the doubt; speed is that distance over the elapsed
 * time (at least one minute). The computation is symmetric: swapping the two events gives the
 * same speed. Between two precise places the trip is judged door to door: it must be possible
 * by train or car, or by air once the hours at the airports are counted, so a jump between two
 * cities of a country within minutes is impossible, not "possible by air". At a refresh, travel is
 * measured from where the session itself was last seen. An event without a location is neither
 * trusted nor punished: it gets a small, explained contribution.
 */
import { ipPrefix, isPrivateOrReserved } from './ip.ts';
import { DEFAULT_SCORING, formatDuration, formatInt, type ScoringConfig } from './scoring.ts';
import { lastSessionEvent } from './history.ts';
import type { GeoLocation, HistoryEvent, RiskContext, RiskHistory, Signal } from './types.ts';

const EARTH_RADIUS_KM = 6371.0088;

/** Great-circle (haversine) distance in km. */
export function haversineKm(lat1: number, lon1: number, lat2: number, lon2: number): number {
  const rad = Math.PI / 180;
  const dLat = (lat2 - lat1) * rad;
  const dLon = (lon2 - lon1) * rad;
  const a = Math.sin(dLat / 2) ** 2 + Math.cos(lat1 * rad) * Math.cos(lat2 * rad) * Math.sin(dLon / 2) ** 2;
  return 2 * EARTH_RADIUS_KM * Math.asin(Math.min(1, Math.sqrt(a)));
}

export interface LocatedPoint {
  lat: number;
  lon: number;
  accuracyKm: number;
  time: number;
}

export interface Travel {
  /** Great-circle distance minus both accuracy radii, at least 0. */
  distanceKm: number;
  elapsedMs: number;
  /** km/h over max(elapsed, 1 min). */
  speedKmh: number;
}

/** Travel between two located points, in either order. */
export function travelBetween(a: LocatedPoint, b: LocatedPoint): Travel {
  const raw = haversineKm(a.lat, a.lon, b.lat, b.lon);
  const distanceKm = Math.max(0, raw - Math.max(0, a.accuracyKm) - Math.max(0, b.accuracyKm));
  const elapsedMs = Math.abs(b.time - a.time);
  const hours = Math.max(elapsedMs, 60_000) / 3_600_000;
  return { distanceKm, elapsedMs, speedKmh: distanceKm / hours };
}

/** The quickest door-to-door trip over `distanceKm`: over the ground, or by air with the hours at the airports. */
export function doorToDoorMs(distanceKm: number, config: ScoringConfig['travel'] = DEFAULT_SCORING.travel): number {
  const ground = distanceKm / config.groundKmh;
  const air = config.flightOverheadMinutes / 60 + distanceKm / config.flightKmh;
  return Math.min(ground, air) * 3_600_000;
}

function placeName(place: { city?: string; region?: string; country?: string }): string {
  return place.city ?? (place.region && place.country ? `${place.region}, ${place.country}` : place.country ?? 'an unknown place');
}

type Located = HistoryEvent & { lat: number; lon: number; accuracyKm: number };

function hasTag(tags: readonly string[] | undefined, hidden: readonly string[]): boolean {
  if (!tags || hidden.length === 0) return false;
  for (const tag of tags) if (hidden.includes(tag)) return true;
  return false;
}

/** Has a location that is the person's (not an anonymiser exit's). */
function located(event: HistoryEvent, hidden: readonly string[]): event is Located {
  return event.lat !== undefined && event.lon !== undefined && event.accuracyKm !== undefined && !hasTag(event.networkTags, hidden);
}

/**
 * The event to measure travel from: for a known device, that device's latest located event
 * (another device's home-routed mobile address must not make this one look impossible);
 * otherwise the account's latest located successful event.
 */
export function previousLocatedEvent(ctx: RiskContext, history: RiskHistory, hidden: readonly string[] = DEFAULT_SCORING.travel.hiddenLocationTags): Located | undefined {
  const events = history.accountEvents;
  if (ctx.deviceId !== undefined) {
    for (let i = events.length - 1; i >= 0; i--) {
      const event = events[i];
      if (event.deviceId === ctx.deviceId && located(event, hidden) && event.time <= ctx.time) return event;
    }
  }
  const last = history.lastGoodEvent;
  if (last && located(last, hidden) && last.time <= ctx.time) return last;
  for (let i = events.length - 1; i >= 0; i--) {
    const event = events[i];
    if (located(event, hidden) && event.time <= ctx.time) return event;
  }
  return undefined;
}

interface UsualPlaces {
  /** Nearest distance (after radii) to a located event of the account. */
  distanceKm: number;
  place?: Located;
  /** Located events considered. */
  count: number;
  /** Events (anonymised ones included) in the same area as `geo` (distance after radii within `minDistanceKm`). */
  sameArea: number;
}

function usualPlaces(geo: GeoLocation, events: readonly HistoryEvent[], config: ScoringConfig['travel']): UsualPlaces {
  const result: UsualPlaces = { distanceKm: Infinity, count: 0, sameArea: 0 };
  let lastLat = NaN;
  let lastLon = NaN;
  let lastAccuracy = NaN;
  let d = Infinity;
  for (const event of events) {
    if (!located(event, [])) continue;
    // Consecutive events mostly come from the same place: measure each place once.
    if (event.lat !== lastLat || event.lon !== lastLon || event.accuracyKm !== lastAccuracy) {
      d = Math.max(0, haversineKm(geo.lat, geo.lon, event.lat, event.lon) - Math.max(0, geo.accuracyKm) - Math.max(0, event.accuracyKm));
      lastLat = event.lat;
      lastLon = event.lon;
      lastAccuracy = event.accuracyKm;
    }
    // An anonymiser exit the account keeps using is familiar, but it is not where the person lives.
    if (d <= config.minDistanceKm) result.sameArea++;
    if (hasTag(event.networkTags, config.hiddenLocationTags)) continue;
    result.count++;
    if (d < result.distanceKm) {
      result.distanceKm = d;
      result.place = event;
    }
  }
  return result;
}

/** Points for being `distanceKm` from every usual place: 0 up to `unusualKm`, then growing per doubling, capped. */
export function unusualDistancePoints(distanceKm: number, config: ScoringConfig['travel'] = DEFAULT_SCORING.travel): number {
  if (!(distanceKm > config.unusualKm)) return 0;
  const points = config.unusualBasePoints + config.unusualPointsPerDoubling * Math.log2(distanceKm / config.unusualKm);
  return Math.min(config.unusualMaxPoints, points);
}

export function geoVelocitySignals(ctx: RiskContext, history: RiskHistory, config: ScoringConfig['travel'] = DEFAULT_SCORING.travel): Signal[] {
  if (ctx.ipIsUser === false) {
    return [{ name: 'server_address', contribution: 0, reason: `Address ${ctx.ip} belongs to the client's server, not the person: location not used` }];
  }
  const geo = ctx.geo;
  if (!geo) {
    const why = isPrivateOrReserved(ctx.ip) ? 'a private or reserved address' : 'no location on record';
    return [{
      name: 'unknown_location',
      contribution: config.unknownLocationPoints,
      reason: `Location of ${ctx.ip} unknown (${why}): neither trusted nor held against the sign-in`,
    }];
  }
  // An anonymiser exit's place is measured like any other: forgiving it would let a flagged
  // address lower the score. Past anonymised events are not used as where the person was.
  const signals: Signal[] = [];
  const here = hasTag(ctx.networkTags, config.hiddenLocationTags) ? `${placeName(geo)} (an anonymiser exit)` : placeName(geo);
  const usual = usualPlaces(geo, history.accountEvents, config);
  // At a refresh, the session's own last place: it was still there at its last refresh (a move
  // would have been recorded). Otherwise the device's, or the account's, last located event.
  const sessionEvent = ctx.type === 'refresh' ? lastSessionEvent(history, ctx.sessionId, ctx.time) : undefined;
  const inSession = sessionEvent !== undefined && located(sessionEvent, config.hiddenLocationTags);
  const previous = inSession
    ? { ...sessionEvent, time: Math.max(sessionEvent.time, Math.min(ctx.lastRefreshAt ?? 0, ctx.time)) } as Located
    : previousLocatedEvent(ctx, history, config.hiddenLocationTags);
  if (previous) {
    const travel = travelBetween(previous, { lat: geo.lat, lon: geo.lon, accuracyKm: geo.accuracyKm, time: ctx.time });
    const precise = previous.accuracyKm < config.preciseAccuracyKm && geo.accuracyKm < config.preciseAccuracyKm;
    const needs = doorToDoorMs(travel.distanceKm, config);
    // A rough place (a carrier's address, located to a whole region) is judged by speed alone.
    const impossible = precise ? travel.elapsedMs < needs : travel.speedKmh > config.impossibleKmh;
    if (travel.distanceKm > config.minDistanceKm && (impossible || travel.speedKmh > config.fastKmh)) {
      const there = inSession ? `this session's last refresh in ${placeName(previous)}` : placeName(previous);
      const sentence = precise && impossible
        ? `${here} ${formatDuration(travel.elapsedMs)} after ${there}: ${formatInt(travel.distanceKm)} km takes at least ${formatDuration(needs)} door to door`
        : `${here} ${formatDuration(travel.elapsedMs)} after ${there}: ${formatInt(travel.speedKmh)} km/h over ${formatInt(travel.distanceKm)} km`;
      // Jumping back to a place the account uses is how roaming phones and mislocated addresses
      // look; an attacker has no familiar place to jump to. A session between two precise places
      // is not forgiven: it cannot be in two cities minutes apart.
      const familiar = !(inSession && precise)
        && (usual.sameArea >= config.familiarAfter || (history.accountStats.counts.ip.get(ipPrefix(ctx.ip)) ?? 0) > 0);
      if (familiar) {
        // forgiven
      } else if (impossible) {
        signals.push({ name: 'impossible_travel', contribution: config.impossiblePoints, reason: `${sentence} (impossible travel)` });
      } else {
        signals.push({ name: 'fast_travel', contribution: config.fastPoints, reason: `${sentence} (possible only by air)` });
      }
    }
  }
  if (usual.count >= config.minHistory && usual.place) {
    const points = unusualDistancePoints(usual.distanceKm, config);
    if (points > 0) {
      signals.push({
        name: 'unusual_distance',
        contribution: Math.round(points * 10) / 10,
        reason: `${here} is ${formatInt(usual.distanceKm)} km from the nearest place this account has used (${placeName(usual.place)})`,
      });
    }
  }
  return signals;
}
