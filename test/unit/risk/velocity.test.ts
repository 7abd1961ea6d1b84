import { DEFAULT_SCORING, countSince, emptyHistory, failurePoints, velocitySignals, type RiskContext, type RiskHistory } from '../../../src/risk/index.ts';
import { MINUTE, T0, ctx } from './fixtures.ts';

const config = DEFAULT_SCORING.velocity;
const times = (n: number, spacingMs: number, end = T0) => Array.from({ length: n }, (_, i) => end - (n - i) * spacingMs);
const withFailures = (account: number[], ip: number[] = []): RiskHistory => ({ ...emptyHistory(), failuresByAccount: account, failuresByIp: ip });

describe('countSince', () => {
  test.each([
    [[], 0],
    [[T0 - 1], 1],
    [[T0 - 15 * MINUTE], 0],
    [[T0 - 15 * MINUTE + 1], 1],
    [[T0 - 20 * MINUTE, T0 - 10 * MINUTE, T0 - MINUTE], 2],
    [[T0 - MINUTE, T0, T0 + MINUTE], 2],
  ])('%j within 15 min of T0 → %d', (list, n) => {
    expect(countSince(list, T0, 15 * MINUTE)).toBe(n);
  });
});

describe('velocitySignals: failed logins', () => {
  test.each<[string, number[], number[], [string, number][]]>([
    ['none', [], [], []],
    ['2 account failures in 15 min', times(2, MINUTE), [], []],
    ['3 account failures in 15 min', times(3, MINUTE), [], [['failed_logins_account', 8]]],
    ['5 account failures in 15 min', times(5, MINUTE), [], [['failed_logins_account', 20]]],
    ['12 account failures in 15 min', times(12, MINUTE), [], [['failed_logins_account', 35]]],
    ['12 account failures, all over an hour ago', times(12, MINUTE, T0 - 60 * MINUTE), [], []],
    ['25 account failures spread over a day', times(25, 50 * MINUTE), [], [['failed_logins_account', 15]]],
    ['10 failures from this address in 15 min', [], times(10, MINUTE), [['failed_logins_ip', 15]]],
    ['60 failures from this address in 15 min', [], times(60, 10_000), [['failed_logins_ip', 30]]],
    ['both', times(5, MINUTE), times(10, MINUTE), [['failed_logins_account', 20], ['failed_logins_ip', 15]]],
  ])('%s', (_name, account, ip, expected) => {
    expect(velocitySignals(ctx(), withFailures(account, ip)).map((s) => [s.name, s.contribution])).toEqual(expected);
  });

  test("failures for the account do not count at a sign-in from one of the account's known devices (no lockout by guessing)", () => {
    const history = withFailures(times(12, MINUTE), times(10, MINUTE));
    history.accountStats.counts.device.set('dev-home', 3);
    expect(velocitySignals(ctx({ deviceId: 'dev-home' }), history).map((s) => s.name)).toEqual(['failed_logins_ip']);
    expect(velocitySignals(ctx({ deviceId: 'dev-new' }), history).map((s) => s.name)).toEqual(['failed_logins_account', 'failed_logins_ip']);
    expect(velocitySignals(ctx({ deviceId: undefined }), history).map((s) => s.name)).toEqual(['failed_logins_account', 'failed_logins_ip']);
    expect(velocitySignals(ctx({ type: 'refresh', deviceId: 'dev-home' }), history).map((s) => s.name)).toEqual(['failed_logins_account', 'failed_logins_ip']);
  });

  test('the highest step reached in any window counts, with a readable reason', () => {
    expect(failurePoints(times(5, MINUTE), T0, config.accountFailures)).toEqual({ points: 20, count: 5, windowMinutes: 15 });
    const [signal] = velocitySignals(ctx(), withFailures(times(5, MINUTE)));
    expect(signal.reason).toBe('5 failed logins for this account in the last 15 min');
    const [ip] = velocitySignals(ctx(), withFailures([], times(10, MINUTE)));
    expect(ip.reason).toBe('10 failed logins from 81.2.69.142 in the last 15 min');
  });

  test('per-address failures are not applied when the address is a client’s server', () => {
    expect(velocitySignals(ctx({ ipIsUser: false }), withFailures([], times(60, 10_000)))).toEqual([]);
  });
});

describe('velocitySignals: refresh rate', () => {
  const refresh = (o: Partial<RiskContext>) => ctx({ type: 'refresh', outcome: undefined, accessTokenTtlSeconds: 300, ...o });
  test.each<[string, RiskContext, string[]]>([
    ['refresh when the token expires', refresh({ lastRefreshAt: T0 - 300_000 }), []],
    ['refresh a bit early', refresh({ lastRefreshAt: T0 - 120_000 }), []],
    ['refresh 5 s after the last', refresh({ lastRefreshAt: T0 - 5_000 }), ['rapid_refresh']],
    ['first refresh of the session', refresh({}), []],
    ['no token lifetime known', refresh({ lastRefreshAt: T0 - 5_000, accessTokenTtlSeconds: undefined }), []],
    ['a login is not a refresh', ctx({ lastRefreshAt: T0 - 5_000, accessTokenTtlSeconds: 300 }), []],
    ['clock skew: previous refresh in the future', refresh({ lastRefreshAt: T0 + 5_000 }), []],
  ])('%s', (_name, context, names) => {
    expect(velocitySignals(context, emptyHistory()).map((s) => s.name)).toEqual(names);
  });

  test('the reason compares with the token lifetime', () => {
    const [signal] = velocitySignals(refresh({ lastRefreshAt: T0 - 5_000 }), emptyHistory());
    expect(signal).toEqual({ name: 'rapid_refresh', contribution: config.rapidRefreshPoints, reason: 'Refreshed 5 s after the previous refresh, while access tokens last 5 min' });
  });
});
