import {
  DEFAULT_LIMITS, addFailure, assess, countInPopulation, emptyHistory, emptyPopulation, eventFromContext, featureValues, localHour, recordAccountEvent,
  recordEvent, recordEventInPlace, recordFailure, shouldRecord, statsFromJson, statsToJson, timezoneOffsetFromLongitude,
  type HistoryLimits, type PopulationStats, type RiskContext, type RiskHistory,
} from '../../../src/risk/index.ts';
import { DAY, HOUR, MINUTE, PLACES, T0, UA, ctx, historyOf, routine } from './fixtures.ts';

describe('time of day in the account’s zone', () => {
  test.each([
    [Date.UTC(2025, 0, 1, 0, 0), 0, 0],
    [Date.UTC(2025, 0, 1, 23, 59), 0, 23],
    [Date.UTC(2025, 0, 1, 23, 0), 60, 0],
    [Date.UTC(2025, 0, 1, 1, 0), -300, 20],
    [Date.UTC(2025, 0, 1, 12, 0), 330, 17],
    [Date.UTC(1969, 11, 31, 22, 0), 0, 22],
  ])('%d at offset %d min → hour %d', (time, offset, hour) => {
    expect(localHour(time, offset)).toBe(hour);
  });

  test.each([
    [-0.13, 0],
    [2.35, 0],
    [13.4, 60],
    [-74, -300],
    [151.2, 600],
    [179.9, 720],
    [-179.9, -720],
  ])('longitude %d → offset %d min', (lon, offset) => {
    expect(timezoneOffsetFromLongitude(lon)).toBe(offset);
  });
});

describe('eventFromContext', () => {
  test('keeps the features the engine compares', () => {
    const event = eventFromContext(ctx({ time: Date.UTC(2025, 2, 3, 21, 30), geo: PLACES.sydney, userAgent: UA.safariIphone, deviceId: 'phone', networkTags: ['corporate'] }), emptyHistory());
    expect(event).toEqual({
      time: Date.UTC(2025, 2, 3, 21, 30),
      ipPrefix: '1.14.24.0/24',
      country: 'AU',
      region: 'NSW',
      city: 'Sydney',
      lat: PLACES.sydney.lat,
      lon: PLACES.sydney.lon,
      accuracyKm: 20,
      browser: 'Safari',
      os: 'iOS',
      deviceType: 'mobile',
      deviceId: 'phone',
      networkTags: ['corporate'],
      hour: 7, // 21:30 UTC is 07:30 in Sydney (UTC+10), the zone of a new account's first place
    });
    expect(featureValues(event)).toEqual({
      ip: '1.14.24.0/24', region: 'AU/NSW', country: 'AU', agent: 'Safari/iOS', browser: 'Safari', os: 'iOS', deviceType: 'mobile', device: 'phone', hour: '7', daypart: '1',
    });
  });

  test('the hour is in the account’s usual zone, not the place of this event', () => {
    const londoner = historyOf(routine(3));
    expect(londoner.timezoneOffsetMinutes).toBe(0);
    expect(eventFromContext(ctx({ time: Date.UTC(2025, 2, 3, 21, 30), geo: PLACES.sydney }), londoner).hour).toBe(21);
  });

  test('without a location: no place, unknown country and region', () => {
    const event = eventFromContext(ctx({ geo: undefined, ip: '10.1.2.3' }), emptyHistory());
    expect(event.country).toBeUndefined();
    expect(featureValues(event)).toMatchObject({ ip: '10.1.2.0/24', region: '?/?', country: '?' });
  });

  test('a client’s server address is neither a place nor a network of the person', () => {
    const event = eventFromContext(ctx({ ipIsUser: false, networkTags: ['corporate'] }), emptyHistory());
    expect(event).toMatchObject({ ipPrefix: 'server' });
    expect(event.lat).toBeUndefined();
    expect(event.networkTags).toBeUndefined();
  });

  test('a device-less event has no device feature', () => {
    expect(featureValues(eventFromContext(ctx({ deviceId: undefined }), emptyHistory())).device).toBeUndefined();
  });
});

describe('recordEvent', () => {
  test('returns a new history and leaves the old one (and its population) untouched', () => {
    const before = historyOf(routine(3));
    const snapshot = structuredClone(before);
    const after = recordEvent(before, eventFromContext(ctx({ deviceId: 'dev-2' }), before));
    expect(before).toEqual(snapshot);
    expect(after).not.toBe(before);
    expect(after.accountEvents).toHaveLength(4);
    expect(after.accountStats.total).toBe(4);
    expect(after.populationStats.total).toBe(4);
    expect(after.accountStats.counts.device.get('dev-2')).toBe(1);
    expect(before.accountStats.counts.device.get('dev-2')).toBeUndefined();
  });

  test('gives the same result as the in-place fold', () => {
    const a = historyOf(routine(4));
    const b = structuredClone(a);
    const event = eventFromContext(ctx({ time: T0 + HOUR, geo: PLACES.paris }), a);
    expect(recordEvent(a, event)).toEqual(recordEventInPlace(b, event));
  });

  test('counts accounts once and shares the population between accounts', () => {
    const population = emptyPopulation();
    const alice = historyOf(routine(3), population);
    const bob = historyOf(routine(2, { accountId: 'bob', deviceId: 'dev-bob' }), population);
    expect(population.accounts).toBe(2);
    expect(population.total).toBe(5);
    expect(alice.populationStats).toBe(bob.populationStats);
    expect(population.counts.device.get('dev-bob')).toBe(2);
  });

  test('the last good event is the newest, even when events arrive out of order', () => {
    const h = historyOf([ctx({ time: T0 }), ctx({ time: T0 - DAY, geo: PLACES.paris })]);
    expect(h.lastGoodEvent?.time).toBe(T0);
  });

  test('sizes stay bounded: recent events, and per-feature values (rarest dropped first)', () => {
    const limits: HistoryLimits = { ...DEFAULT_LIMITS, maxEvents: 5, maxAccountValues: 10, maxPopulationValues: 20 };
    const h = emptyHistory();
    for (let i = 0; i < 100; i++) {
      const c = ctx({ time: T0 + i * MINUTE, ip: i % 2 === 0 ? '81.2.69.1' : `90.0.${i}.1`, deviceId: `dev-${i % 2 === 0 ? 'main' : i}` });
      recordEventInPlace(h, eventFromContext(c, h), limits);
    }
    expect(h.accountEvents).toHaveLength(5);
    expect(h.accountEvents[4].time).toBe(T0 + 99 * MINUTE);
    expect(h.accountStats.total).toBe(100);
    expect(h.accountStats.counts.ip.size).toBeLessThanOrEqual(10);
    expect(h.accountStats.counts.ip.get('81.2.69.0/24')).toBe(50);
    expect(h.accountStats.counts.device.get('dev-main')).toBe(50);
    expect(h.populationStats.counts.device.size).toBeLessThanOrEqual(20);
  });
});

describe('the fold in two steps: the account, then the population', () => {
  test('recordAccountEvent folds into the account only and says whether it was its first; countInPopulation adds it: together, the in-place fold', () => {
    const population = emptyPopulation();
    const bob = historyOf(routine(2, { accountId: 'bob' }), population);
    const snapshot = structuredClone(population);
    const fresh = emptyHistory(population);
    const event = eventFromContext(ctx({ geo: PLACES.paris }), fresh);
    expect(recordAccountEvent(fresh, event)).toBe(true);
    expect(population).toEqual(snapshot);
    expect(fresh.accountStats.total).toBe(1);
    expect(fresh.lastGoodEvent).toBe(event);
    countInPopulation(population, event, true);
    expect(population.total).toBe(3);
    expect(population.accounts).toBe(2);
    expect(recordAccountEvent(fresh, event)).toBe(false);
    countInPopulation(population, event, false);

    const together = historyOf([ctx({ geo: PLACES.paris }), ctx({ geo: PLACES.paris })], historyOf(routine(2, { accountId: 'bob' })).populationStats);
    expect(fresh).toEqual(together);
    expect(bob.populationStats).toEqual(together.populationStats);
  });

  /**
   * What nine refreshing clients produce (one person's grants, in parallel, from one address, no
   * agent, no device, back to back): every round each of them reads the same stored history and,
   * its session not on record yet, folds its refresh in; one write per round is kept.
   */
  function parallelRefreshes(countEveryAttempt: boolean) {
    const population = emptyPopulation();
    const at = (o: Partial<RiskContext>): RiskContext => ({ type: 'login', time: T0, accountId: 'ada', clientId: 'spa', ip: '127.0.0.1', userAgent: '', ...o });
    const read = (stored: RiskHistory, into: PopulationStats): RiskHistory => ({
      ...stored, accountEvents: [...stored.accountEvents], accountStats: structuredClone(stored.accountStats), populationStats: into,
    });
    let ada = emptyHistory(population);
    /** Requests that read the stored history at once: the first write is kept. Their highest score. */
    const race = (contexts: RiskContext[]) => {
      const loaded = contexts.map(() => read(ada, population));
      let kept = false;
      let score = 0;
      contexts.forEach((c, i) => {
        score = Math.max(score, assess(c, loaded[i]).score);
        const event = eventFromContext(c, loaded[i]);
        if (!shouldRecord(loaded[i], event, c.type)) return;
        const first = recordAccountEvent(loaded[i], event);
        if (!kept) ada = loaded[i];
        if (!kept || countEveryAttempt) countInPopulation(population, event, first);
        kept = true;
      });
      return score;
    };
    // Nine sign-ins in fresh browsers, the first two recorded at once.
    race([at({ deviceId: 'browser-0' }), at({ deviceId: 'browser-1' })]);
    for (let i = 2; i < 9; i++) race([at({ time: T0 + i, deviceId: `browser-${i}` })]);
    const scores = Array.from({ length: 12 }, (_, round) => {
      const time = T0 + MINUTE + round * 100;
      return race(Array.from({ length: 9 }, (_, s) => at({
        type: 'refresh', time, sessionId: `session-${s}`, accessTokenTtlSeconds: 300, ...(round > 0 ? { lastRefreshAt: time - 100 } : {}),
      })));
    });
    return { scores, population, ada };
  }

  test('one person\'s grants refreshed in parallel, their history writes racing: counted once, when kept, the refreshes stay as usual as the first', () => {
    const { scores, population, ada } = parallelRefreshes(false);
    // rapid_refresh (15) and no known location for 127.0.0.1 (5): the behaviour model adds nothing.
    expect(scores).toEqual([5, ...Array(11).fill(20)]);
    expect(population.total).toBe(ada.accountStats.total);
    expect(population.accounts).toBe(1);
    // Counting every attempt instead: the person is counted many times over, is rarer in the
    // population at each round, and their own refreshes grow "unusual" towards a step-up.
    const everyAttempt = parallelRefreshes(true);
    expect(everyAttempt.population.total).toBeGreaterThan(2 * everyAttempt.ada.accountStats.total);
    expect(Math.max(...everyAttempt.scores)).toBeGreaterThan(20);
  });
});

describe('failures', () => {
  test.each<[string, number[], number, number[]]>([
    ['first', [], T0, [T0]],
    ['appends in order', [T0 - 2, T0 - 1], T0, [T0 - 2, T0 - 1, T0]],
    ['inserts an older one in place', [T0 - 3, T0 - 1], T0 - 2, [T0 - 3, T0 - 2, T0 - 1]],
    ['forgets beyond the window', [T0 - 25 * HOUR, T0 - HOUR], T0, [T0 - HOUR, T0]],
  ])('%s', (_name, times, time, expected) => {
    expect(addFailure(times, time)).toEqual(expected);
  });

  test('keeps at most maxFailures and never mutates', () => {
    const times = Array.from({ length: 250 }, (_, i) => T0 - (250 - i) * 1000);
    const frozen = Object.freeze([...times]);
    const kept = addFailure(frozen, T0);
    expect(kept).toHaveLength(DEFAULT_LIMITS.maxFailures);
    expect(kept[kept.length - 1]).toBe(T0);
    const h = emptyHistory();
    const h2 = recordFailure(h, T0);
    expect(h.failuresByAccount).toEqual([]);
    expect(h2.failuresByAccount).toEqual([T0]);
    expect(h2.populationStats).toBe(h.populationStats);
  });
});

describe('feature counts as JSON', () => {
  test('round-trip through JSON text, for accounts and the population', () => {
    const h = historyOf(routine(4));
    const account = statsFromJson(JSON.parse(JSON.stringify(statsToJson(h.accountStats))));
    expect(account.counts).toEqual(h.accountStats.counts);
    expect(account.total).toBe(4);
    const population = statsFromJson(JSON.parse(JSON.stringify(statsToJson(h.populationStats))));
    expect(population).toEqual(h.populationStats);
  });

  test('keys that look like object internals are just values', () => {
    const h = historyOf([ctx({ deviceId: '__proto__' }), ctx({ deviceId: 'constructor' })]);
    const back = statsFromJson(JSON.parse(JSON.stringify(statsToJson(h.accountStats))));
    expect(back.counts.device.get('__proto__')).toBe(1);
    expect(back.counts.device.get('constructor')).toBe(1);
    expect(statsFromJson({ total: 0, counts: {} }).counts.ip.size).toBe(0);
  });
});

describe('shouldRecord: refreshes are recorded when they add something', () => {
  const h = historyOf([ctx({ time: T0 })]);
  const e = (o: Parameters<typeof ctx>[0]) => eventFromContext(ctx(o), h);
  test.each<[string, 'login' | 'refresh', ReturnType<typeof e>, boolean]>([
    ['a login, always', 'login', e({ time: T0 + MINUTE }), true],
    ['a refresh 5 min later from the same context', 'refresh', e({ time: T0 + 5 * MINUTE }), false],
    ['a refresh an hour later', 'refresh', e({ time: T0 + HOUR }), true],
    ['a refresh from another /24', 'refresh', e({ time: T0 + 5 * MINUTE, ip: '81.2.70.1' }), true],
    ['a refresh from another device', 'refresh', e({ time: T0 + 5 * MINUTE, deviceId: 'other' }), true],
    ['a refresh from another browser', 'refresh', e({ time: T0 + 5 * MINUTE, userAgent: UA.firefoxLinux }), true],
    ['a refresh after a browser update', 'refresh', e({ time: T0 + 5 * MINUTE, userAgent: UA.chromeWindowsNext }), false],
  ])('%s', (_name, type, event, expected) => {
    expect(shouldRecord(h, event, type)).toBe(expected);
  });

  test('two devices refreshing in turn: each is recorded once, not at every refresh', () => {
    const two = historyOf([ctx({ time: T0 }), ctx({ time: T0 + MINUTE, userAgent: UA.firefoxLinux, deviceId: 'phone' })]);
    const again = (o: Parameters<typeof ctx>[0]) => eventFromContext(ctx(o), two);
    expect(shouldRecord(two, again({ time: T0 + 5 * MINUTE }), 'refresh')).toBe(false);
    expect(shouldRecord(two, again({ time: T0 + 6 * MINUTE, userAgent: UA.firefoxLinux, deviceId: 'phone' }), 'refresh')).toBe(false);
    expect(shouldRecord(two, again({ time: T0 + 2 * HOUR }), 'refresh')).toBe(true);
  });

  test('the first event of an account is always recorded', () => {
    expect(shouldRecord(emptyHistory(), e({}), 'refresh')).toBe(true);
  });
});
