import { DEFAULT_SCORING, assess, sessionMoves, sessionSignals, type GeoLocation, type RiskContext, type RiskHistory } from '../../../src/risk/index.ts';
import { HOUR, MINUTE, PLACES, T0, UA, ctx, historyOf, routine } from './fixtures.ts';

const config = DEFAULT_SCORING.session;
const ROUGH: GeoLocation = { ...PLACES.london, city: undefined, accuracyKm: 500 };

/** A refresh of session s1 at T0, 5 minutes after its last one, from `ip` (and `geo`). */
const refresh = (o: Partial<RiskContext> = {}): RiskContext =>
  ctx({ type: 'refresh', outcome: undefined, sessionId: 's1', sessionDeviceId: 'dev-home', sessionUserAgent: UA.chromeWindows, lastRefreshAt: T0 - 5 * MINUTE, ...o });

/** Ten days at home on her laptop, then session s1 refreshing from home 20 minutes ago. */
function laptopSession(): RiskHistory {
  return historyOf([...routine(10), refresh({ time: T0 - 20 * MINUTE, lastRefreshAt: undefined })]);
}

/** Her phone: earlier sessions hopping between carrier addresses, then session s1 on the carrier. */
function phoneSessions(): RiskHistory {
  const phone = { userAgent: UA.safariIphone, deviceId: 'dev-phone', sessionDeviceId: 'dev-phone', sessionUserAgent: UA.safariIphone };
  const hops = Array.from({ length: 6 }, (_, i) => refresh({ ...phone, sessionId: `p${Math.floor(i / 3)}`, ip: `100.64.${i}.9`, geo: ROUGH, time: T0 - 3 * HOUR + i * 10 * MINUTE }));
  return historyOf([...routine(10), ...hops, refresh({ ...phone, ip: '100.64.99.9', geo: ROUGH, time: T0 - 20 * MINUTE })]);
}

describe('sessionSignals: a session that changes network between refreshes', () => {
  test('a laptop session refreshing from its own network: nothing', () => {
    expect(sessionSignals(refresh(), laptopSession())).toEqual([]);
  });

  test('a laptop session that moves to another network in its city: enough to step up on its own', () => {
    const [signal] = sessionSignals(refresh({ ip: '81.2.70.10' }), laptopSession());
    expect(signal.name).toBe('session_moved');
    expect(signal.contribution).toBeCloseTo(config.movedPoints * (1 - config.desktopPrior), 1);
    expect(signal.reason).toBe('Session moved to another network 5 min after its last refresh: London (81.2.69.0/24) → London (81.2.70.0/24); '
      + 'no computer session of this account on record yet, computers usually stay put');
    expect(assess(refresh({ ip: '81.2.70.10' }), laptopSession()).decision).toEqual({ action: 'step_up', acr: 'urn:vigil:acr:2fa' });
  });

  test('to another city minutes later: impossible travel as well, and the session is revoked', () => {
    const a = assess(refresh({ ip: '82.10.20.30', geo: PLACES.manchester }), laptopSession());
    expect(a.signals.filter((s) => s.contribution > 0).map((s) => s.name)).toEqual(expect.arrayContaining(['impossible_travel', 'session_moved']));
    expect(a.signals.find((s) => s.name === 'session_moved')?.reason).toMatch(/^Session moved to another place 5 min after its last refresh: London \(81\.2\.69\.0\/24\) → Manchester/);
    expect(a.decision).toEqual({ action: 'revoke' });
  });

  test('a phone whose sessions hop between carrier addresses: a new carrier address weighs little', () => {
    const phone = { userAgent: UA.safariIphone, deviceId: 'dev-phone', sessionDeviceId: 'dev-phone', sessionUserAgent: UA.safariIphone };
    const [signal] = sessionSignals(refresh({ ...phone, ip: '100.64.120.9', geo: ROUGH }), phoneSessions());
    expect(signal.name).toBe('session_moved');
    expect(signal.contribution).toBeLessThan(10);
    expect(signal.reason).toMatch(/this account's phone and tablet sessions changed network at 4 of 4 recorded refreshes$/);
    expect(assess(refresh({ ...phone, ip: '100.64.120.9', geo: ROUGH }), phoneSessions()).decision).toEqual({ action: 'allow' });
  });

  test('the same phone session on a precisely located network in a city the person does not go to: not a hop', () => {
    const phone = { userAgent: UA.safariIphone, deviceId: 'dev-phone', sessionDeviceId: 'dev-phone', sessionUserAgent: UA.safariIphone };
    const [signal] = sessionSignals(refresh({ ...phone, ip: '83.11.21.31', geo: PLACES.edinburgh }), phoneSessions());
    expect(signal.contribution).toBeCloseTo(config.movedPoints * (1 - config.desktopPrior), 1);
    expect(signal.reason).toMatch(/not a hop between carrier addresses$/);
  });

  test('only at refreshes, only for the person\'s own address, only with the session on record', () => {
    expect(sessionSignals(ctx({ sessionId: 's1', ip: '81.2.70.10' }), laptopSession())).toEqual([]);
    expect(sessionSignals(refresh({ ip: '81.2.70.10', ipIsUser: false }), laptopSession())).toEqual([]);
    expect(sessionSignals(refresh({ ip: '81.2.70.10', sessionId: 's2' }), laptopSession())).toEqual([]);
  });
});

describe('sessionMoves', () => {
  test('counts consecutive events of one session, per kind of device', () => {
    const h = phoneSessions();
    expect(sessionMoves(h.accountEvents, true)).toEqual({ pairs: 4, moves: 4 });
    expect(sessionMoves(h.accountEvents, false)).toEqual({ pairs: 0, moves: 0 });
  });
});
