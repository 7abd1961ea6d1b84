import { DEFAULT_POLICY, assess, collectSignals, combineScore, emptyHistory, type Decision, type RiskContext, type RiskHistory, type Signal } from '../../../src/risk/index.ts';
import { DAY, HOUR, MINUTE, PLACES, T0, UA, crowd, ctx, historyOf, routine } from './fixtures.ts';

const TWO = 'urn:vigil:acr:2fa';
const PHR = 'urn:vigil:acr:phr';

/** Alice: 20 days of sign-ins from London, Chrome on Windows, her laptop — her last one 10 minutes ago. */
function alice(): RiskHistory {
  return historyOf([...routine(20), ctx({ time: T0 - 10 * MINUTE })], crowd(200, 6));
}
const refresh = (o: Partial<RiskContext> = {}): RiskContext =>
  ctx({ type: 'refresh', outcome: undefined, sessionId: 's1', sessionDeviceId: 'dev-home', sessionUserAgent: UA.chromeWindows, lastRefreshAt: T0 - 5 * MINUTE, accessTokenTtlSeconds: 300, ...o });

describe('assess: scenarios with the shipped policy', () => {
  test.each<[string, RiskContext, (h: RiskHistory) => RiskHistory, Decision, string[]]>([
    ['her usual sign-in', ctx(), (h) => h, { action: 'allow' }, []],
    ['her usual refresh', refresh(), (h) => h, { action: 'allow' }, []],
    ['refresh from Sydney 10 minutes after London', refresh({ geo: PLACES.sydney }), (h) => h, { action: 'revoke' }, ['impossible_travel', 'unusual_distance', 'new_country']],
    ['login from Sydney 10 minutes after London, on her laptop', ctx({ geo: PLACES.sydney }), (h) => h, { action: 'deny' }, ['impossible_travel', 'unusual_distance', 'new_country']],
    ['refresh token used from another device', refresh({ deviceId: 'dev-evil', userAgent: UA.firefoxLinux }), (h) => h, { action: 'revoke' }, ['session_device_changed', 'session_agent_changed']],
    ['refresh after her device turned non-compliant', refresh({ devicePosture: { compliant: false, stale: false, reasons: ['disk not encrypted'] } }), (h) => h,
      { action: 'step_up', acr: PHR }, ['device_noncompliant']],
    ['the same on the sensitive admin console', refresh({ clientId: 'admin-console', devicePosture: { compliant: false, stale: false, reasons: ['disk not encrypted'] } }), (h) => h,
      { action: 'revoke' }, ['device_noncompliant']],
    ['login from Paris the next day on her laptop', ctx({ geo: PLACES.paris, time: T0 + DAY }), (h) => h, { action: 'mfa', acr: TWO }, ['unusual_distance', 'new_country']],
    ['login from Manchester the next day on her laptop', ctx({ geo: PLACES.manchester, time: T0 + DAY }), (h) => h, { action: 'allow' }, []],
    ['a stranger from Lagos', ctx({ geo: PLACES.lagos, userAgent: UA.firefoxLinux, deviceId: 'dev-evil', time: T0 + DAY }), (h) => h,
      { action: 'mfa', acr: PHR }, ['unusual_distance', 'behaviour', 'new_country', 'unknown_device']],
    ['a stranger in London with her browser', ctx({ ip: '81.2.99.9', deviceId: 'dev-evil', time: T0 + DAY }), (h) => h, { action: 'mfa', acr: TWO }, ['unknown_device']],
    // Per-person calibration: 21 sign-ins on one laptop — a new device alone asks for the second factor…
    ['a new phone on her home network', ctx({ ip: '81.2.69.20', userAgent: UA.safariIphone, deviceId: 'dev-phone', time: T0 + DAY }), (h) => h, { action: 'mfa', acr: TWO }, ['unknown_device']],
    // …but not for someone who often shows up on new browsers, when nothing else is unusual.
    ['a new phone on her home network, when new browsers are usual for her', ctx({ ip: '81.2.69.20', userAgent: UA.safariIphone, deviceId: 'dev-phone', time: T0 + DAY }),
      () => historyOf([...routine(20).map((c, i) => ({ ...c, deviceId: `dev-${i % 7}` })), ctx({ time: T0 - 10 * MINUTE })], crowd(200, 6)), { action: 'allow' }, ['unknown_device']],
    ['a new phone on her home network at 03:00, an hour she never signs in at', ctx({ ip: '81.2.69.20', userAgent: UA.safariIphone, deviceId: 'dev-phone', time: T0 + DAY - 6 * HOUR }),
      () => historyOf([...routine(20).map((c, i) => ({ ...c, deviceId: `dev-${i % 7}` })), ctx({ time: T0 - 10 * MINUTE })], crowd(200, 6)), { action: 'mfa', acr: TWO }, ['unknown_device']],
    ['through an anonymiser on a new device', ctx({ ip: '185.1.2.3', geo: PLACES.manchester, networkTags: ['anonymizer'], deviceId: 'dev-evil', time: T0 + DAY }), (h) => h,
      { action: 'mfa', acr: TWO }, ['unknown_device', 'network_anonymizer']],
    ['from a known-bad range', ctx({ networkTags: ['known_bad'], time: T0 + DAY }), (h) => h, { action: 'deny' }, ['network_known_bad']],
    ['after 12 failed logins in 10 minutes, from a browser she has not used', ctx({ time: T0 + DAY, deviceId: 'dev-evil' }), (h) => ({ ...h, failuresByAccount: Array.from({ length: 12 }, (_, i) => T0 + DAY - (12 - i) * 50_000) }),
      { action: 'mfa', acr: PHR }, ['unknown_device', 'failed_logins_account']],
    ['after 12 failed logins in 10 minutes, on her own laptop', ctx({ time: T0 + DAY }), (h) => ({ ...h, failuresByAccount: Array.from({ length: 12 }, (_, i) => T0 + DAY - (12 - i) * 50_000) }),
      { action: 'allow' }, []],
    ['a brand-new account', ctx({ accountId: 'newbie', deviceId: 'dev-n' }), () => emptyHistory(crowd(200, 6)), { action: 'allow' }, []],
    ['a brand-new account through a private address', ctx({ accountId: 'newbie', ip: '10.0.0.8', geo: undefined }), () => emptyHistory(), { action: 'allow' }, ['unknown_location']],
  ])('%s', (_name, context, history, decision, risky) => {
    const a = assess(context, history(alice()));
    expect(a.decision).toEqual(decision);
    expect(a.signals.filter((s) => s.contribution > 0).map((s) => s.name)).toEqual(risky);
    expect(a.level).toBe(a.score >= 60 ? 'high' : a.score >= 30 ? 'medium' : 'low');
    for (const s of a.signals) expect(s.reason.length).toBeGreaterThan(10);
  });

  test('the score is the capped, rounded sum of the contributions', () => {
    const a = assess(refresh({ geo: PLACES.sydney, deviceId: 'dev-evil', userAgent: UA.firefoxLinux }), alice());
    expect(a.score).toBe(100);
    const b = assess(ctx({ ip: '81.2.99.9', deviceId: 'dev-evil', time: T0 + DAY }), alice());
    expect(b.score).toBe(combineScore(b.signals));
    expect(b.score).toBe(Math.round(b.signals.reduce((s, x) => s + x.contribution, 0)));
  });

  test('a corporate network lowers the score', () => {
    const plain = assess(ctx({ ip: '81.2.99.9', deviceId: 'dev-evil', time: T0 + DAY }), alice());
    const corporate = assess(ctx({ ip: '81.2.99.9', deviceId: 'dev-evil', time: T0 + DAY, networkTags: ['corporate'] }), alice());
    expect(corporate.score).toBe(plain.score - 20);
    expect(corporate.decision).toEqual({ action: 'allow' });
  });

  test('assess neither mutates the context nor the history, and is deterministic', () => {
    const history = alice();
    const context = ctx({ geo: PLACES.paris, time: T0 + 2 * HOUR, deviceId: 'dev-x' });
    const h0 = structuredClone(history);
    const c0 = structuredClone(context);
    const first = assess(context, history);
    expect(history).toEqual(h0);
    expect(context).toEqual(c0);
    expect(assess(structuredClone(context), structuredClone(history))).toEqual(first);
  });

  test('signals come in a stable order: location, behaviour, device, velocity, network', () => {
    const names = collectSignals(ctx({ geo: PLACES.lagos, deviceId: 'dev-evil', networkTags: ['anonymizer'], time: T0 + DAY }), alice(), DEFAULT_POLICY).map((s) => s.name);
    expect(names).toEqual(['unusual_distance', 'behaviour', 'new_country', 'unknown_device', 'network_anonymizer']);
  });
});

describe('combineScore', () => {
  const s = (...contributions: number[]): Signal[] => contributions.map((c, i) => ({ name: `s${i}`, contribution: c, reason: '' }));
  test.each([
    [[], 0],
    [[10, 20.4], 30],
    [[10, 20.5], 31],
    [[-20], 0],
    [[70, 40, 30], 100],
    [[70, 40, -20], 90],
  ])('%j → %d', (contributions, score) => {
    expect(combineScore(s(...contributions))).toBe(score);
  });
});
