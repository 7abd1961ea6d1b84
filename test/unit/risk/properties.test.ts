import fc from 'fast-check';
import {
  DEFAULT_POLICY, assess, combineScore, decisionStrength, emptyHistory, emptyPopulation, eventFromContext, geoVelocitySignals, recordEventInPlace, travelBetween,
  type GeoLocation, type RiskContext, type RiskHistory, type Signal,
} from '../../../src/risk/index.ts';
import { DAY, PLACES, T0, UA, crowd } from './fixtures.ts';

/** More runs for a deep check: RISK_PROPERTY_RUNS=5000 npm run test:unit -- test/unit/risk/properties */
const RUNS = { numRuns: Number(process.env.RISK_PROPERTY_RUNS ?? 300) };

const geoArb: fc.Arbitrary<GeoLocation | undefined> = fc.oneof(
  fc.constant(undefined),
  fc.constantFrom(...Object.values(PLACES)),
  fc.record({
    country: fc.constantFrom('GB', 'FR', 'US', 'AU', 'NG'),
    region: fc.constantFrom('A', 'B', 'C'),
    lat: fc.double({ min: -80, max: 80, noNaN: true }),
    lon: fc.double({ min: -180, max: 180, noNaN: true }),
    accuracyKm: fc.integer({ min: 1, max: 1000 }),
  }),
);

const postureArb = fc.option(fc.record({ compliant: fc.boolean(), stale: fc.boolean(), reasons: fc.array(fc.constantFrom('disk not encrypted', 'firewall off'), { maxLength: 2 }) }), { nil: undefined });

const contextArb: fc.Arbitrary<RiskContext> = fc.record({
  type: fc.constantFrom('login' as const, 'refresh' as const),
  time: fc.integer({ min: T0 - 60 * DAY, max: T0 + 60 * DAY }),
  accountId: fc.constant('alice'),
  clientId: fc.constantFrom('webapp', 'admin-console'),
  ip: fc.constantFrom('81.2.69.142', '81.2.70.1', '90.12.22.32', '1.14.24.34', '10.0.0.1', '2a00:1450:4009:81f::200e', 'garbage'),
  geo: geoArb,
  userAgent: fc.oneof(fc.constantFrom(...Object.values(UA)), fc.string({ maxLength: 40 })),
  deviceId: fc.option(fc.constantFrom('dev-home', 'dev-phone', 'dev-x', 'constructor', '__proto__'), { nil: undefined }),
  devicePosture: postureArb,
  sessionDeviceId: fc.option(fc.constantFrom('dev-home', 'dev-phone'), { nil: undefined }),
  sessionUserAgent: fc.option(fc.constantFrom(...Object.values(UA)), { nil: undefined }),
  lastRefreshAt: fc.option(fc.integer({ min: T0 - 60 * DAY, max: T0 + 60 * DAY }), { nil: undefined }),
  accessTokenTtlSeconds: fc.option(fc.integer({ min: 30, max: 3600 }), { nil: undefined }),
  networkTags: fc.option(fc.subarray(['anonymizer', 'known_bad', 'corporate', 'partner']), { nil: undefined }),
  ipIsUser: fc.option(fc.boolean(), { nil: undefined }),
}).map((c) => {
  // drop undefined optional fields, as a caller would
  const out = { ...c } as Record<string, unknown>;
  for (const key of Object.keys(out)) if (out[key] === undefined) delete out[key];
  return out as unknown as RiskContext;
});

const historyArb: fc.Arbitrary<RiskHistory> = fc.record({
  events: fc.array(contextArb, { maxLength: 25 }),
  failuresByAccount: fc.array(fc.integer({ min: T0 - 2 * DAY, max: T0 + 60 * DAY }), { maxLength: 30 }),
  failuresByIp: fc.array(fc.integer({ min: T0 - 2 * DAY, max: T0 + 60 * DAY }), { maxLength: 60 }),
  others: fc.integer({ min: 0, max: 30 }),
}).map(({ events, failuresByAccount, failuresByIp, others }) => {
  const population = others > 0 ? crowd(others, 3) : emptyPopulation();
  const history = emptyHistory(population);
  for (const e of [...events].sort((a, b) => a.time - b.time)) recordEventInPlace(history, eventFromContext(e, history));
  history.failuresByAccount = [...failuresByAccount].sort((a, b) => a - b);
  history.failuresByIp = [...failuresByIp].sort((a, b) => a - b);
  return history;
});

/** Ways to add risky evidence to a context or its history without taking anything away. */
const riskier: fc.Arbitrary<(c: RiskContext, h: RiskHistory) => [RiskContext, RiskHistory]> = fc.constantFrom(
  (c: RiskContext, h: RiskHistory): [RiskContext, RiskHistory] => [{ ...c, networkTags: [...(c.networkTags ?? []), 'known_bad'] }, h],
  (c: RiskContext, h: RiskHistory): [RiskContext, RiskHistory] => [{ ...c, networkTags: [...(c.networkTags ?? []), 'anonymizer'] }, h],
  (c: RiskContext, h: RiskHistory): [RiskContext, RiskHistory] => [{ ...c, devicePosture: { compliant: false, stale: c.devicePosture?.stale ?? false, reasons: ['disk not encrypted'] } }, h],
  (c: RiskContext, h: RiskHistory): [RiskContext, RiskHistory] => [{ ...c, devicePosture: { compliant: c.devicePosture?.compliant ?? true, stale: true, reasons: c.devicePosture?.reasons ?? [] } }, h],
  (c: RiskContext, h: RiskHistory): [RiskContext, RiskHistory] => [c, { ...h, failuresByAccount: [...h.failuresByAccount, ...Array.from({ length: 12 }, () => c.time - 1000)].sort((a, b) => a - b) }],
  (c: RiskContext, h: RiskHistory): [RiskContext, RiskHistory] => [c, { ...h, failuresByIp: [...h.failuresByIp, ...Array.from({ length: 60 }, () => c.time - 1000)].sort((a, b) => a - b) }],
);

describe('properties of the engine', () => {
  test('the score is always a whole number within 0–100, and the level matches it', () => {
    fc.assert(fc.property(contextArb, historyArb, (c, h) => {
      const a = assess(c, h);
      expect(Number.isInteger(a.score)).toBe(true);
      expect(a.score).toBeGreaterThanOrEqual(0);
      expect(a.score).toBeLessThanOrEqual(100);
      expect(a.level).toBe(a.score >= 60 ? 'high' : a.score >= 30 ? 'medium' : 'low');
      for (const s of a.signals) expect(Number.isFinite(s.contribution)).toBe(true);
    }), RUNS);
  });

  test('assess is deterministic (and does not depend on object identity)', () => {
    fc.assert(fc.property(contextArb, historyArb, (c, h) => {
      expect(assess(structuredClone(c), structuredClone(h))).toEqual(assess(c, h));
    }), RUNS);
  });

  test('adding a risky signal never lowers the score nor weakens the decision', () => {
    fc.assert(fc.property(contextArb, historyArb, riskier, (c, h, add) => {
      const before = assess(c, h);
      const [c2, h2] = add(c, h);
      const after = assess(c2, h2);
      expect(after.score).toBeGreaterThanOrEqual(before.score);
      expect(decisionStrength(after.decision)).toBeGreaterThanOrEqual(decisionStrength(before.decision));
    }), RUNS);
  });

  test('combining: one more positive contribution never lowers the score', () => {
    const signals = fc.array(fc.double({ min: -100, max: 100, noNaN: true }), { maxLength: 12 })
      .map((cs) => cs.map((c, i): Signal => ({ name: `s${i}`, contribution: c, reason: '' })));
    fc.assert(fc.property(signals, fc.double({ min: 0, max: 100, noNaN: true }), (list, extra) => {
      expect(combineScore([...list, { name: 'x', contribution: extra, reason: '' }])).toBeGreaterThanOrEqual(combineScore(list));
    }), { numRuns: 1000 });
  });

  test('travel scoring is symmetric in direction', () => {
    const located = fc.record({
      country: fc.constant('XX'),
      lat: fc.double({ min: -85, max: 85, noNaN: true }),
      lon: fc.double({ min: -180, max: 180, noNaN: true }),
      accuracyKm: fc.integer({ min: 0, max: 300 }),
    });
    fc.assert(fc.property(located, located, fc.integer({ min: 0, max: 3 * DAY }), (a, b, gap) => {
      const ta = travelBetween({ ...a, time: T0 }, { ...b, time: T0 + gap });
      const tb = travelBetween({ ...b, time: T0 }, { ...a, time: T0 + gap });
      expect(tb.distanceKm).toBeCloseTo(ta.distanceKm, 6);
      expect(tb.speedKmh).toBeCloseTo(ta.speedKmh, 6);
      const travelSignals = (from: GeoLocation, to: GeoLocation) => {
        const history = emptyHistory();
        const first: RiskContext = { type: 'login', time: T0, accountId: 'a', clientId: 'c', ip: '81.2.69.1', geo: from, userAgent: UA.chromeWindows };
        recordEventInPlace(history, eventFromContext(first, history));
        return geoVelocitySignals({ ...first, time: T0 + gap, ip: '90.12.22.1', geo: to }, history)
          .filter((s) => s.name === 'impossible_travel' || s.name === 'fast_travel')
          .map((s) => [s.name, s.contribution]);
      };
      expect(travelSignals(b, a)).toEqual(travelSignals(a, b));
    }), { numRuns: 500 });
  });

  test('an account’s own usual context scores low', () => {
    const usual = fc.record({
      place: fc.constantFrom(...Object.values(PLACES)),
      ua: fc.constantFrom(...Object.values(UA)),
      device: fc.option(fc.constantFrom('dev-a', 'dev-b'), { nil: undefined }),
      octet: fc.integer({ min: 1, max: 200 }),
      hour: fc.integer({ min: 0, max: 23 }),
      events: fc.integer({ min: 1, max: 40 }),
      others: fc.integer({ min: 0, max: 60 }),
    });
    fc.assert(fc.property(usual, ({ place, ua, device, octet, hour, events, others }) => {
      const population = others > 0 ? crowd(others, 4) : emptyPopulation();
      const history = emptyHistory(population);
      const at = (i: number): RiskContext => {
        const c: RiskContext = { type: 'login', time: T0 + i * DAY + hour * 3_600_000, accountId: 'me', clientId: 'webapp', ip: `77.${octet}.3.4`, geo: place, userAgent: ua };
        if (device !== undefined) c.deviceId = device;
        return c;
      };
      for (let i = 0; i < events; i++) recordEventInPlace(history, eventFromContext(at(i), history));
      const a = assess(at(events), history, DEFAULT_POLICY);
      expect(a.level).toBe('low');
      expect(a.decision).toEqual({ action: 'allow' });
    }), { numRuns: 200 });
  });
});
