import {
  DEFAULT_SCORING, HIERARCHIES, behaviourScore, behaviourSignals, emptyHistory, emptyPopulation, eventFromContext, featureValues,
  ratioToPoints, smoothedLikelihood, type RiskContext, type RiskHistory,
} from '../../../src/risk/index.ts';
import { DAY, PLACES, T0, UA, crowd, ctx, historyOf, routine } from './fixtures.ts';

const config = DEFAULT_SCORING.behaviour;

describe('smoothedLikelihood (Wiefling et al.’s reconstruction of Freeman et al.)', () => {
  test.each([
    // seen: (c/N)·(1 − u/(N+u))
    [3, 10, 2, 0.3 * (1 - 2 / 12)],
    [5, 5, 1, 1 * (1 - 1 / 6)],
    // unseen: 1/(N+u)
    [0, 10, 2, 1 / 12],
    [0, 10, 0, 1 / 11],
    [0, 0, 0, 1],
    [0, 0, 5, 1 / 5],
  ])('count %d of %d, %d unseen → %f', (count, total, unseen, expected) => {
    expect(smoothedLikelihood(count, total, unseen)).toBeCloseTo(expected, 12);
  });

  test('the hierarchies carry the published weights', () => {
    const weights = Object.fromEntries(HIERARCHIES.map((h) => [h.name, h.levels.map((l) => [l.feature, l.weight])]));
    expect(weights.network).toEqual([['ip', 0.6], ['region', 0.3], ['country', 0.1]]);
    expect(weights.agent.map(([, w]) => Number(w).toFixed(4))).toEqual(['0.5387', '0.2680', '0.1882', '0.0051']);
    for (const h of HIERARCHIES) expect(h.levels.reduce((s, l) => s + l.weight, 0)).toBeCloseTo(1, 6);
  });
});

describe('ratioToPoints: bounded and monotone', () => {
  test.each([
    [0, 0],
    [Number.NaN, 0],
    [0.001, 0],
    [1, 0],
    [2, config.maxPoints * (1 - Math.exp(-1 / config.scaleBits))],
    [16, config.maxPoints * (1 - Math.exp(-4 / config.scaleBits))],
    [Infinity, config.maxPoints],
  ])('R = %f → %f points', (ratio, points) => {
    expect(ratioToPoints(ratio)).toBeCloseTo(points, 9);
  });

  test('never decreases and never reaches the maximum for finite R', () => {
    let previous = 0;
    for (let bits = -20; bits <= 200; bits += 0.5) {
      const p = ratioToPoints(2 ** bits);
      expect(p).toBeGreaterThanOrEqual(previous);
      expect(p).toBeLessThanOrEqual(config.maxPoints);
      previous = p;
    }
  });
});

describe('behaviourSignals', () => {
  /** Alice: 20 daily sign-ins from London on Chrome/Windows with her laptop, among 300 other accounts. */
  function alice(): RiskHistory {
    const population = crowd(300, 8);
    return historyOf(routine(20), population);
  }
  const points = (c: RiskContext, h: RiskHistory) => behaviourSignals(c, h).find((s) => s.name === 'behaviour')?.contribution ?? 0;

  test.each<[string, Partial<RiskContext>, number, number]>([
    ['her usual context', {}, 0, 0],
    ['a browser update (same family)', { userAgent: UA.chromeWindowsNext }, 0, 0],
    ['a new /24 in her city', { ip: '81.2.70.9' }, 0, 5],
    ['her laptop abroad', { geo: PLACES.newYork, ip: '24.1.2.3' }, 0, 15],
    ['a stranger abroad: new network, country, browser, device', { geo: PLACES.lagos, ip: '41.1.2.3', userAgent: UA.firefoxLinux, deviceId: 'dev-evil' }, 15, 40],
  ])('%s', (_name, overrides, low, high) => {
    const p = points(ctx({ time: T0, ...overrides }), alice());
    expect(p).toBeGreaterThanOrEqual(low);
    expect(p).toBeLessThanOrEqual(high);
  });

  test('more surprising contexts score at least as high', () => {
    const h = alice();
    const steps: Partial<RiskContext>[] = [
      {},
      { ip: '81.2.70.9' },
      { ip: '90.1.2.3', geo: PLACES.paris },
      { ip: '90.1.2.3', geo: PLACES.paris, userAgent: UA.firefoxLinux },
      { ip: '90.1.2.3', geo: PLACES.paris, userAgent: UA.firefoxLinux, deviceId: 'dev-evil' },
    ];
    const scores = steps.map((o) => points(ctx(o), h));
    for (let i = 1; i < scores.length; i++) expect(scores[i]).toBeGreaterThanOrEqual(scores[i - 1]);
    expect(scores[4]).toBeGreaterThan(scores[0]);
  });

  test('the reason names what is new', () => {
    const [signal] = behaviourSignals(ctx({ geo: PLACES.lagos, ip: '41.1.2.3', userAgent: UA.firefoxLinux, deviceId: 'dev-evil' }), alice());
    expect(signal.name).toBe('behaviour');
    expect(signal.reason).toMatch(/^Sign-in unusual for this account, likelihood ratio [\d.]+: new network 41\.1\.2\.0\/24, new browser Firefox 128 on Linux, new device/);
    const [usual] = behaviourSignals(ctx(), alice());
    expect(usual.reason).toMatch(/^Sign-in consistent with this account's history, likelihood ratio/);
    expect(usual.contribution).toBe(0);
  });

  test('a new account is compared with the population: explained, not punished for being new', () => {
    const population = crowd(300, 8);
    const signals = behaviourSignals(ctx({ accountId: 'newbie', deviceId: 'dev-new' }), emptyHistory(population));
    expect(signals.map((s) => s.name)).toEqual(['new_account']);
    expect(signals[0].contribution).toBe(0);
    expect(signals[0].reason).toMatch(/compared with the population/);
  });

  test('an empty world (first account ever) does not crash and scores nothing', () => {
    const signals = behaviourSignals(ctx(), emptyHistory());
    expect(signals).toEqual([{ name: 'new_account', contribution: 0, reason: expect.any(String) }]);
  });

  test('an account with little history is mostly compared with the population, and says so', () => {
    const population = crowd(300, 8);
    const h = historyOf(routine(1), population);
    const [signal] = behaviourSignals(ctx({ geo: PLACES.paris, ip: '90.1.2.3' }), h);
    expect(signal.reason).toMatch(/only 1 earlier sign-in: mostly compared with the population/);
    // with the prior, one event cannot make a new place as damning as for an established account
    const established = historyOf(routine(30), crowd(300, 8));
    expect(signal.contribution).toBeLessThanOrEqual(behaviourSignals(ctx({ geo: PLACES.paris, ip: '90.1.2.3' }), established)[0].contribution);
  });

  test('new country: only once the account has a usual country', () => {
    const population = crowd(100, 5);
    const paris = ctx({ geo: PLACES.paris, ip: '90.1.2.3' });
    for (let n = 0; n < config.minHistory; n++) {
      expect(behaviourSignals(paris, historyOf(routine(n), population)).map((s) => s.name)).not.toContain('new_country');
    }
    const signal = behaviourSignals(paris, historyOf(routine(config.minHistory), population)).find((s) => s.name === 'new_country');
    expect(signal).toEqual({ name: 'new_country', contribution: config.newCountryPoints, reason: 'First sign-in from FR for this account (usually GB)' });
    expect(behaviourSignals(ctx({ geo: PLACES.manchester, ip: '82.1.1.1' }), historyOf(routine(5), population)).map((s) => s.name)).not.toContain('new_country');
    expect(behaviourSignals(ctx({ geo: undefined, ip: '10.0.0.1' }), historyOf(routine(5), population)).map((s) => s.name)).not.toContain('new_country');
  });

  test('behaviourScore: Freeman’s attack factor 1/users ÷ share of logins, bounded', () => {
    const population = crowd(300, 8);
    const heavy = historyOf(routine(50), population);
    const values = featureValues(eventFromContext(ctx(), heavy));
    const score = behaviourScore(values, heavy.accountStats, population);
    expect(score.attackFactor).toBeGreaterThanOrEqual(config.attackFactorMin);
    expect(score.attackFactor).toBeLessThanOrEqual(config.attackFactorMax);
    const freeman = (1 / population.accounts) / ((50 + config.priorEvents) / (population.total + config.priorEvents));
    const bounded = Math.min(config.attackFactorMax, Math.max(config.attackFactorMin, freeman));
    expect(score.attackFactor).toBeCloseTo(bounded ** (50 / (50 + config.priorEvents)), 9);
    expect(score.hierarchies.map((h) => h.name)).toEqual(['network', 'agent', 'device', 'hour']);
    expect(score.ratio).toBeLessThan(1);
  });

  test('without a device id the device hierarchy is left to device.ts', () => {
    const h = historyOf(routine(10), crowd(50, 5));
    const values = featureValues(eventFromContext(ctx({ deviceId: undefined }), h));
    expect(behaviourScore(values, h.accountStats, h.populationStats).hierarchies.map((x) => x.name)).toEqual(['network', 'agent', 'hour']);
  });

  test('a server address leaves the network hierarchy out', () => {
    const h = historyOf(routine(10), crowd(50, 5));
    const signals = behaviourSignals(ctx({ ipIsUser: false, ip: '198.18.0.1', geo: undefined, time: T0 + DAY }), h);
    expect(signals.find((s) => s.name === 'behaviour')?.reason).not.toMatch(/network/);
  });

  test('an empty population table is handled', () => {
    const h = historyOf(routine(3), emptyPopulation());
    expect(() => behaviourSignals(ctx(), { ...h, populationStats: emptyPopulation() })).not.toThrow();
  });
});
