/**
 * Behaviour: how surprising this sign-in's features are for this account compared with the
 * population, after Freeman et al., "Who Are You? A Statistical Approach to Measuring User
 * Authenticity" (NDSS 2016), as reconstructed by Wiefling et al. (das-group/rba-algorithm):
 *
 *   R = Π_k [ p(x_k) / p(x_k | account) ]^e_k × p(attack on account) / p(account logs in)
 *
 * with p(attack on account) = 1 / number of accounts and p(account logs in) its share of all
 * events. Higher R is riskier. Features form hierarchies whose per-level likelihoods are mixed by
 * weight (Freeman's weights, with ASN replaced by region because geoip-lite has no ASN, and the
 * full user-agent string replaced by browser family + OS family so browser auto-updates do not
 * look new):
 *
 *   network  ip /24 (/48) 0.6 → region 0.3 → country 0.1
 *   agent    browser+OS 0.5387 → browser 0.2680 → OS 0.1882 → device type 0.0051
 *   device   device id 1
 *   hour     hour of day 0.7 → 6-hour part of day 0.3 (in the account's usual time zone)
 *
 * Population likelihoods are smoothed as in the reconstruction: a value seen c times of N,
 * (c/N)·(1 − u/(N+u)); an unseen value 1/(N+u); u the number of distinct values one level down
 * (at least 1). Account likelihoods are plain frequencies; a value never seen at any level of a
 * hierarchy gets population likelihood / 4. Accounts with little history are mixed with the
 * population (`priorEvents` pseudo-events, which also temper the attack factor), so a new
 * account is compared with "a typical account", neither trusted nor always challenged. R maps to
 * points with a bounded, monotone function.
 */
import { accountTimezone, eventFromContext, featureValues, type FeatureValues } from './history.ts';
import { DEFAULT_SCORING, type ScoringConfig } from './scoring.ts';
import type { Feature, FeatureStats, PopulationStats, RiskContext, RiskHistory, Signal } from './types.ts';
import { describeUserAgent, parseUserAgent } from './ua.ts';

export interface Level {
  feature: Feature;
  weight: number;
}

export interface Hierarchy {
  name: 'network' | 'agent' | 'device' | 'hour';
  levels: Level[];
}

export const HIERARCHIES: readonly Hierarchy[] = [
  { name: 'network', levels: [{ feature: 'ip', weight: 0.6 }, { feature: 'region', weight: 0.3 }, { feature: 'country', weight: 0.1 }] },
  {
    name: 'agent',
    levels: [
      { feature: 'agent', weight: 0.5386653840551359 },
      { feature: 'browser', weight: 0.2680451498625666 },
      { feature: 'os', weight: 0.18818295100109536 },
      { feature: 'deviceType', weight: 0.0051065150812021525 },
    ],
  },
  { name: 'device', levels: [{ feature: 'device', weight: 1 }] },
  { name: 'hour', levels: [{ feature: 'hour', weight: 0.7 }, { feature: 'daypart', weight: 0.3 }] },
];

/** Smoothed likelihood of a value seen `count` times of `total`, with `unseen` values one level down. */
export function smoothedLikelihood(count: number, total: number, unseen: number): number {
  const u = Math.max(1, unseen);
  if (count > 0 && total > 0) return (count / total) * (1 - u / (total + u));
  return 1 / (total + u);
}

/** Population likelihood of the event's values in a hierarchy, levels mixed by weight. */
export function populationLikelihood(hierarchy: Hierarchy, values: FeatureValues, population: FeatureStats): number {
  let p = 0;
  const levels = hierarchy.levels;
  for (let i = 0; i < levels.length; i++) {
    const table = population.counts[levels[i].feature];
    const value = values[levels[i].feature];
    const c = value === undefined ? 0 : table.get(value) ?? 0;
    const unseen = i + 1 < levels.length ? population.counts[levels[i + 1].feature].size : 1;
    p += levels[i].weight * smoothedLikelihood(c, population.total, unseen);
  }
  return p;
}

/** Account likelihood (plain frequencies, levels mixed by weight); 0 when nothing matches. */
export function accountLikelihood(hierarchy: Hierarchy, values: FeatureValues, account: FeatureStats): number {
  if (account.total === 0) return 0;
  let p = 0;
  for (const level of hierarchy.levels) {
    const value = values[level.feature];
    const c = value === undefined ? 0 : account.counts[level.feature].get(value) ?? 0;
    p += level.weight * (c / account.total);
  }
  return p;
}

export interface HierarchyScore {
  name: Hierarchy['name'];
  population: number;
  account: number;
  /** [population / account]^exponent. */
  ratio: number;
  /** The top-level value was never seen for this account. */
  newValue: boolean;
}

export interface BehaviourScore {
  /** Freeman's likelihood ratio R (higher is riskier). */
  ratio: number;
  /** Points: bounded, monotone in R. */
  points: number;
  attackFactor: number;
  hierarchies: HierarchyScore[];
  accountEvents: number;
}

/** Points for a likelihood ratio: `max · (1 − exp(−max(0, log2 R + offset) / scale))`, in [0, max). */
export function ratioToPoints(ratio: number, config: ScoringConfig['behaviour'] = DEFAULT_SCORING.behaviour): number {
  if (!(ratio > 0)) return 0;
  const bits = Math.log2(ratio) + config.offsetBits;
  if (!(bits > 0)) return 0;
  if (bits === Infinity) return config.maxPoints;
  return config.maxPoints * (1 - Math.exp(-bits / config.scaleBits));
}

/** The behaviour model's numbers for an event's feature values. */
export function behaviourScore(
  values: FeatureValues,
  account: FeatureStats,
  population: PopulationStats,
  config: ScoringConfig['behaviour'] = DEFAULT_SCORING.behaviour,
): BehaviourScore {
  const n = account.total;
  const alpha = Math.max(0, config.priorEvents);
  const hierarchies: HierarchyScore[] = [];
  let ratio = 1;
  for (const hierarchy of HIERARCHIES) {
    const top = values[hierarchy.levels[0].feature];
    // A feature the event does not have (no device id) says nothing here; device.ts judges it.
    if (top === undefined) continue;
    const exponent = config.exponents[hierarchy.name];
    const pg = populationLikelihood(hierarchy, values, population);
    let pu = accountLikelihood(hierarchy, values, account);
    if (pu === 0) pu = pg / config.unseenDivisor;
    // Population prior: an account with little history is mostly compared with everyone.
    const mixed = n + alpha > 0 ? (n * pu + alpha * pg) / (n + alpha) : pg;
    const r = mixed > 0 ? (pg / mixed) ** exponent : 1;
    ratio *= r;
    hierarchies.push({ name: hierarchy.name, population: pg, account: mixed, ratio: r, newValue: n > 0 && (account.counts[hierarchy.levels[0].feature].get(top) ?? 0) === 0 });
  }
  let attackFactor = 1;
  if (population.total > 0 && population.accounts > 0 && n > 0) {
    const pAttack = 1 / population.accounts;
    const pLogin = (n + alpha) / (population.total + alpha);
    const bounded = Math.min(config.attackFactorMax, Math.max(config.attackFactorMin, pAttack / pLogin));
    // Blended in like the likelihoods: a brand-new account is "a typical account" (factor 1).
    attackFactor = bounded ** (n / (n + alpha));
  }
  ratio *= attackFactor;
  return { ratio, points: ratioToPoints(ratio, config), attackFactor, hierarchies, accountEvents: n };
}

function formatRatio(r: number): string {
  if (r >= 100) return String(Math.round(r));
  if (r >= 1) return r.toFixed(1);
  return r.toPrecision(2);
}

function mostCommon(table: Map<string, number>, skip: string): string | undefined {
  let best: string | undefined;
  let bestCount = 0;
  for (const [value, c] of table) {
    if (value !== skip && (c > bestCount || (c === bestCount && best !== undefined && value < best))) {
      best = value;
      bestCount = c;
    }
  }
  return best;
}

export function behaviourSignals(ctx: RiskContext, history: RiskHistory, config: ScoringConfig['behaviour'] = DEFAULT_SCORING.behaviour): Signal[] {
  const event = eventFromContext(ctx, history);
  const values = featureValues(event);
  const userIp = ctx.ipIsUser !== false;
  if (!userIp) {
    // A client's server is not the person: its address and user agent say nothing about them.
    values.ip = undefined;
    values.agent = undefined;
  }
  const account = history.accountStats;
  const score = behaviourScore(values, account, history.populationStats, config);
  const signals: Signal[] = [];
  const n = account.total;
  const points = Math.round(score.points * 10) / 10;
  if (n === 0) {
    signals.push({
      name: 'new_account',
      contribution: 0,
      reason: 'No earlier sign-ins for this account: compared with the population only',
    });
  }
  const novel: string[] = [];
  for (const h of score.hierarchies) {
    if (!h.newValue) continue;
    if (h.name === 'network') novel.push(`network ${values.ip}`);
    if (h.name === 'agent') novel.push(`browser ${describeUserAgent(ctx.ua ?? parseUserAgent(ctx.userAgent))}`);
    if (h.name === 'device') novel.push('device');
    if (h.name === 'hour') novel.push(`hour ${String(event.hour).padStart(2, '0')}:00 (UTC${formatOffset(accountTimezone(history, event.lon))})`);
  }
  if (n > 0) {
    const little = n < config.minHistory ? ` (only ${n} earlier sign-in${n === 1 ? '' : 's'}: mostly compared with the population)` : '';
    const summary = points > 0
      ? `Sign-in unusual for this account, likelihood ratio ${formatRatio(score.ratio)}${novel.length > 0 ? `: new ${novel.join(', new ')}` : ''}${little}`
      : `Sign-in consistent with this account's history, likelihood ratio ${formatRatio(score.ratio)}${little}`;
    signals.push({ name: 'behaviour', contribution: points, reason: summary });
  } else if (points > 0) {
    signals.push({ name: 'behaviour', contribution: points, reason: `Sign-in unusual for the population, likelihood ratio ${formatRatio(score.ratio)}` });
  }
  // A first sign-in from a country, once the account has enough located history to have a usual one.
  if (userIp && event.country !== undefined) {
    const countries = account.counts.country;
    let located = 0;
    for (const [value, c] of countries) if (value !== '?') located += c;
    let seen = 0;
    for (const value of countries.keys()) if (value !== '?') seen++;
    // Per-person calibration: someone who already signs in from several countries travels; a new
    // one is their normal (a stranger abroad still brings a new device and network).
    if (located >= config.minHistory && !countries.has(event.country) && seen < config.travellerCountries) {
      const usual = mostCommon(countries, '?');
      signals.push({
        name: 'new_country',
        contribution: config.newCountryPoints,
        reason: `First sign-in from ${event.country} for this account${usual ? ` (usually ${usual})` : ''}`,
      });
    }
  }
  return signals;
}

function formatOffset(minutes: number): string {
  const sign = minutes < 0 ? '−' : '+';
  const abs = Math.abs(minutes);
  return `${sign}${Math.floor(abs / 60)}${abs % 60 ? `:${String(abs % 60).padStart(2, '0')}` : ''}`;
}
