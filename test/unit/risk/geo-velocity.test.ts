import { doorToDoorMs, emptyHistory, geoVelocitySignals, haversineKm, travelBetween, unusualDistancePoints, DEFAULT_SCORING, type GeoLocation, type RiskContext } from '../../../src/risk/index.ts';
import { DAY, HOUR, IPS, MINUTE, PLACES, T0, ctx, historyOf, routine } from './fixtures.ts';

const travel = DEFAULT_SCORING.travel;

describe('haversineKm', () => {
  test.each([
    ['London → Paris', PLACES.london, PLACES.paris, 343],
    ['London → New York', PLACES.london, PLACES.newYork, 5570],
    ['London → Sydney', PLACES.london, PLACES.sydney, 16994],
    ['same point', PLACES.london, PLACES.london, 0],
  ])('%s ≈ %d km', (_name, a, b, km) => {
    expect(haversineKm(a.lat, a.lon, b.lat, b.lon)).toBeCloseTo(km, -1.5);
  });

  test('antipodes and the date line do not break it', () => {
    expect(haversineKm(0, 0, 0, 180)).toBeCloseTo(Math.PI * 6371.0088, 0);
    expect(haversineKm(0, 179.5, 0, -179.5)).toBeCloseTo(111.2, 0);
  });
});

describe('travelBetween subtracts both accuracy radii and never goes negative', () => {
  test.each([
    ['precise fixes', 1, 1, 343 - 2],
    ['fuzzy fixes', 100, 150, 343 - 250],
    ['overlapping areas', 200, 200, 0],
  ])('%s', (_name, accA, accB, km) => {
    const t = travelBetween({ ...PLACES.london, accuracyKm: accA, time: T0 }, { ...PLACES.paris, accuracyKm: accB, time: T0 + HOUR });
    expect(t.distanceKm).toBeCloseTo(km, -1);
    expect(t.speedKmh).toBeCloseTo(km, -1);
  });

  test('elapsed time below one minute counts as one minute', () => {
    const t = travelBetween({ ...PLACES.london, time: T0 }, { ...PLACES.paris, time: T0 });
    expect(t.speedKmh).toBeCloseTo(t.distanceKm * 60, 5);
  });
});

describe('geoVelocitySignals', () => {
  const lastInLondon = (at: number, geo: GeoLocation = PLACES.london) => historyOf([ctx({ time: at, geo })]);
  type Row = [string, RiskContext, ReturnType<typeof historyOf>, string[]];
  test.each<Row>([
    ['Sydney 11 min after London: impossible', ctx({ geo: PLACES.sydney, time: T0 + 11 * MINUTE }), lastInLondon(T0), ['impossible_travel']],
    ['New York 2 h after London: impossible', ctx({ geo: PLACES.newYork, time: T0 + 2 * HOUR }), lastInLondon(T0), ['impossible_travel']],
    ['New York 7 h after London: impossible door to door (the flight alone takes 6 h, the airports 2 h)', ctx({ geo: PLACES.newYork, time: T0 + 7 * HOUR }), lastInLondon(T0), ['impossible_travel']],
    ['New York 9 h after London: fast, possible by air', ctx({ geo: PLACES.newYork, time: T0 + 9 * HOUR }), lastInLondon(T0), ['fast_travel']],
    ['Manchester 40 min after London: impossible door to door, though far below airliner speed', ctx({ geo: PLACES.manchester, time: T0 + 40 * MINUTE }), lastInLondon(T0), ['impossible_travel']],
    ['Manchester 2 h after London: possible by train', ctx({ geo: PLACES.manchester, time: T0 + 2 * HOUR }), lastInLondon(T0), []],
    ['Manchester 40 min after London, both only roughly located: distances after the radii are small', ctx({ geo: { ...PLACES.manchester, accuracyKm: 150 }, time: T0 + 40 * MINUTE }),
      lastInLondon(T0, { ...PLACES.london, accuracyKm: 150 }), []],
    ['New York 12 h after London: plausible', ctx({ geo: PLACES.newYork, time: T0 + 12 * HOUR }), lastInLondon(T0), []],
    ['Paris 3 h after London: plausible', ctx({ geo: PLACES.paris, time: T0 + 3 * HOUR }), lastInLondon(T0), []],
    ['Paris 10 min after London: impossible', ctx({ geo: PLACES.paris, time: T0 + 10 * MINUTE }), lastInLondon(T0), ['impossible_travel']],
    ['same city a minute later', ctx({ time: T0 + MINUTE }), lastInLondon(T0), []],
    ['fuzzy fixes overlap: no travel measured', ctx({ geo: { ...PLACES.paris, accuracyKm: 200 }, time: T0 + MINUTE }), lastInLondon(T0, { ...PLACES.london, accuracyKm: 200 }), []],
    ['no earlier located event', ctx({ geo: PLACES.sydney }), emptyHistory(), []],
  ])('%s', (_name, context, history, names) => {
    expect(geoVelocitySignals(context, history).map((s) => s.name)).toEqual(names);
  });

  test('the reason reads like a sentence with the places, the time and the door-to-door time or the speed', () => {
    const [signal] = geoVelocitySignals(ctx({ geo: PLACES.sydney, time: T0 + 11 * MINUTE }), lastInLondon(T0));
    expect(signal).toEqual({
      name: 'impossible_travel',
      contribution: travel.impossiblePoints,
      reason: expect.stringMatching(/^Sydney 11 min after London: 16,9\d\d km takes at least 20 h \d+ min door to door \(impossible travel\)$/),
    });
    const [fast] = geoVelocitySignals(ctx({ geo: PLACES.newYork, time: T0 + 9 * HOUR }), lastInLondon(T0));
    expect(fast.reason).toMatch(/^New York 9 h after London: 6\d\d km\/h over 5,5\d\d km \(possible only by air\)$/);
  });

  test('doorToDoorMs: over the ground for short trips, by air (with the hours at the airports) for long ones', () => {
    expect(doorToDoorMs(150)).toBe(HOUR);
    expect(doorToDoorMs(9000)).toBe(12 * HOUR);
    expect(doorToDoorMs(0)).toBe(0);
  });

  describe('at a refresh, travel is measured from where the session was last seen', () => {
    // Her laptop signed in at home in London this morning; the session refreshed from London a few minutes ago.
    const history = () => historyOf([
      ...routine(5),
      ctx({ time: T0 - 3 * HOUR }),
      ctx({ type: 'refresh', sessionId: 's1', outcome: undefined, time: T0 - 2 * HOUR }),
    ]);
    const refreshFrom = (geo: GeoLocation, o: Partial<RiskContext> = {}) =>
      ctx({ type: 'refresh', sessionId: 's1', outcome: undefined, geo, lastRefreshAt: T0 - 5 * MINUTE, time: T0 + 5 * MINUTE, ...o });

    test('Manchester 10 min after the session was in London is impossible, though the last recorded event is 2 h old', () => {
      const [signal] = geoVelocitySignals(refreshFrom(PLACES.manchester), history());
      expect(signal.name).toBe('impossible_travel');
      expect(signal.reason).toMatch(/^Manchester 10 min after this session's last refresh in London: 2\d\d km takes at least 1 h \d+ min door to door \(impossible travel\)$/);
    });

    test('without the session (another session, or none on record), the 2 h since the last event make it possible', () => {
      expect(geoVelocitySignals(refreshFrom(PLACES.manchester, { sessionId: 's2' }), history())).toEqual([]);
      expect(geoVelocitySignals(refreshFrom(PLACES.manchester, { lastRefreshAt: undefined }), history())).toEqual([]);
    });

    test('a familiar place does not excuse a session jumping between two precise places', () => {
      const visits = historyOf([
        ...routine(3, { geo: PLACES.manchester, ip: IPS.Manchester }, T0 - 10 * DAY),
        ...routine(5),
        ctx({ type: 'refresh', sessionId: 's1', outcome: undefined, time: T0 - 2 * HOUR }),
      ]);
      expect(geoVelocitySignals(refreshFrom(PLACES.manchester), visits).map((s) => s.name)).toEqual(['impossible_travel']);
      expect(geoVelocitySignals(ctx({ geo: PLACES.manchester, time: T0 + 5 * MINUTE }), visits).map((s) => s.name)).toEqual([]);
    });
  });

  test('unknown location: a small, explained contribution, whatever the history', () => {
    for (const ip of ['10.0.0.5', '81.2.69.142']) {
      const signals = geoVelocitySignals(ctx({ ip, geo: undefined, time: T0 + MINUTE }), lastInLondon(T0));
      expect(signals).toHaveLength(1);
      expect(signals[0].name).toBe('unknown_location');
      expect(signals[0].contribution).toBe(travel.unknownLocationPoints);
      expect(signals[0].contribution).toBeLessThan(10);
      expect(signals[0].reason).toMatch(ip === '10.0.0.5' ? /private or reserved/ : /no location on record/);
    }
  });

  test('anonymiser exits: travel to one still counts (a flagged address must never lower the score)', () => {
    const viaVpn = ctx({ geo: PLACES.sydney, time: T0 + 11 * MINUTE, networkTags: ['anonymizer'] });
    const [signal] = geoVelocitySignals(viaVpn, lastInLondon(T0));
    expect(signal.name).toBe('impossible_travel');
    expect(signal.reason).toMatch(/^Sydney \(an anonymiser exit\) 11 min after London/);
  });

  test('a past anonymiser event is not where the person was, but an exit the account keeps using is familiar', () => {
    const history = historyOf([ctx({ time: T0 - 2 * DAY }), ctx({ geo: PLACES.sydney, time: T0 - 5 * MINUTE, networkTags: ['anonymizer'] })]);
    expect(geoVelocitySignals(ctx({ time: T0 }), history)).toEqual([]);
    const regular = historyOf([
      ...routine(5),
      ctx({ geo: PLACES.sydney, ip: '1.2.3.4', time: T0 - 3 * DAY, networkTags: ['anonymizer'] }),
      ctx({ geo: PLACES.sydney, ip: '1.2.4.4', time: T0 - 2 * DAY, networkTags: ['anonymizer'] }),
      ctx({ time: T0 - 10 * MINUTE }),
    ]);
    const again = ctx({ geo: PLACES.sydney, ip: '1.2.5.4', time: T0, networkTags: ['anonymizer'] });
    expect(geoVelocitySignals(again, regular).map((s) => s.name)).toEqual(['unusual_distance']);
  });

  test('a known device is measured from its own last place (another device may roam through home)', () => {
    const history = historyOf([
      ctx({ geo: PLACES.sydney, time: T0 - 2 * DAY, deviceId: 'laptop' }),
      ctx({ geo: PLACES.london, time: T0 - 10 * MINUTE, deviceId: 'phone', ip: '82.1.1.1' }),
    ]);
    expect(geoVelocitySignals(ctx({ geo: PLACES.sydney, time: T0, deviceId: 'laptop' }), history).map((s) => s.name)).not.toContain('impossible_travel');
    expect(geoVelocitySignals(ctx({ geo: PLACES.sydney, ip: '1.99.99.99', time: T0, deviceId: 'stranger' }), history).map((s) => s.name)).toContain('impossible_travel');
  });

  test('an impossible jump back to a familiar place is not held against the event', () => {
    const history = historyOf([
      ...routine(5, { geo: PLACES.london }),
      ctx({ geo: PLACES.newYork, time: T0 - 10 * MINUTE, ip: '203.0.113.50' }),
    ]);
    expect(geoVelocitySignals(ctx({ time: T0, deviceId: 'other' }), history).map((s) => s.name)).toEqual([]);
  });

  test('unusual distance from every usual place, once there is enough history', () => {
    const few = historyOf(routine(travel.minHistory - 1));
    const enough = historyOf(routine(travel.minHistory));
    const later = T0 + 3 * DAY;
    expect(geoVelocitySignals(ctx({ geo: PLACES.newYork, time: later }), few)).toEqual([]);
    const [signal] = geoVelocitySignals(ctx({ geo: PLACES.newYork, time: later }), enough);
    expect(signal.name).toBe('unusual_distance');
    expect(signal.reason).toMatch(/^New York is 5,5\d\d km from the nearest place this account has used \(London\)$/);
    expect(geoVelocitySignals(ctx({ geo: PLACES.manchester, time: later }), enough)).toEqual([]);
  });

  test.each([
    [100, 0],
    [300, 0],
    [600, travel.unusualBasePoints + travel.unusualPointsPerDoubling],
    [1200, travel.unusualBasePoints + 2 * travel.unusualPointsPerDoubling],
    [20000, travel.unusualMaxPoints],
  ])('unusual distance %d km → %d points', (km, points) => {
    expect(unusualDistancePoints(km)).toBeCloseTo(points, 6);
  });

  test('unusual distance points grow with distance and are capped', () => {
    let previous = 0;
    for (let km = 0; km < 25000; km += 250) {
      const p = unusualDistancePoints(km);
      expect(p).toBeGreaterThanOrEqual(previous);
      expect(p).toBeLessThanOrEqual(travel.unusualMaxPoints);
      previous = p;
    }
  });

  test('an address that is the client’s server says nothing about the person', () => {
    const signals = geoVelocitySignals(ctx({ geo: PLACES.sydney, time: T0 + MINUTE, ipIsUser: false }), lastInLondon(T0));
    expect(signals.map((s) => [s.name, s.contribution])).toEqual([['server_address', 0]]);
  });
});
