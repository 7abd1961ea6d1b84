import { DEFAULT_SCORING, deviceSignals, emptyHistory, loginDeviations, stableDevices, type RiskContext, type RiskHistory } from '../../../src/risk/index.ts';
import { T0, UA, ctx, historyOf, routine } from './fixtures.ts';

const points = DEFAULT_SCORING.device;

describe('deviceSignals', () => {
  const known = () => historyOf(routine(5));
  const noDevices = () => historyOf(routine(5, { deviceId: undefined }));
  const refresh = (o: Partial<RiskContext>) => ctx({ type: 'refresh', sessionId: 's1', sessionDeviceId: 'dev-home', sessionUserAgent: UA.chromeWindows, outcome: undefined, ...o });

  test.each<[string, RiskContext, () => RiskHistory, [string, number][]]>([
    ['login on a known device', ctx(), known, []],
    ['login on a new device, on a network the account has not used', ctx({ deviceId: 'dev-new', ip: '90.1.2.3' }), known, [['unknown_device', points.unknownPoints]]],
    ['login on a new device at home (known /24): weaker', ctx({ deviceId: 'dev-new', ip: '81.2.69.7' }), known, [['unknown_device', points.unknownOnKnownNetworkPoints]]],
    ['login without a device id, account normally has one', ctx({ deviceId: undefined }), known, [['no_device', points.missingPoints]]],
    ['login without a device id, account never had one', ctx({ deviceId: undefined }), noDevices, []],
    ['first login ever: nothing to compare', ctx({ deviceId: 'dev-new' }), () => emptyHistory(), []],
    ['refresh on the session device', refresh({}), known, []],
    ['refresh after a browser update (same family)', refresh({ userAgent: UA.chromeWindowsNext }), known, []],
    ['refresh from another device', refresh({ deviceId: 'dev-evil' }), known, [['session_device_changed', points.sessionDeviceChangedPoints]]],
    ['refresh without the session device', refresh({ deviceId: undefined }), known, [['session_device_changed', points.sessionDeviceChangedPoints]]],
    ['refresh from another user agent', refresh({ userAgent: UA.firefoxLinux }), known, [['session_agent_changed', points.sessionAgentChangedPoints]]],
    ['refresh from another device and agent', refresh({ deviceId: 'dev-evil', userAgent: UA.firefoxLinux }), known,
      [['session_device_changed', points.sessionDeviceChangedPoints], ['session_agent_changed', points.sessionAgentChangedPoints]]],
    ['refresh of a session that started without a device', refresh({ sessionDeviceId: undefined, deviceId: undefined }), known, []],
    ['refresh on an unfamiliar device is judged against the session, not the account', refresh({ sessionDeviceId: 'dev-new', deviceId: 'dev-new' }), known, []],
    ['non-compliant device', ctx({ devicePosture: { compliant: false, stale: false, reasons: ['disk not encrypted', 'firewall off'] } }), known,
      [['device_noncompliant', points.nonCompliantPoints]]],
    ['stale posture', ctx({ devicePosture: { compliant: true, stale: true, reasons: [] } }), known, [['posture_stale', points.stalePoints]]],
    ['non-compliant and stale', ctx({ devicePosture: { compliant: false, stale: true, reasons: [] } }), known,
      [['device_noncompliant', points.nonCompliantPoints], ['posture_stale', points.stalePoints]]],
    ['compliant and fresh', ctx({ devicePosture: { compliant: true, stale: false, reasons: [] } }), known, []],
  ])('%s', (_name, context, history, expected) => {
    expect(deviceSignals(context, history()).map((s) => [s.name, s.contribution])).toEqual(expected);
  });

  describe('a new device with another deviation, or for a person whose devices are stable', () => {
    // 25 daily sign-ins at 09:00 from home, on laptops that change every few days (a cookie-clearing person).
    const churner = (o: Partial<RiskContext> = {}) => historyOf(routine(25).map((c, i) => ({ ...c, deviceId: `dev-${Math.floor(i / 3)}`, ...o })));
    // The same person on one laptop throughout.
    const steady = () => historyOf(routine(25));
    const unknown = (c: RiskContext, h: RiskHistory) => deviceSignals(c, h).find((s) => s.name === 'unknown_device');

    test('at home at the usual hour: weak for the churner, full for the steady person (per-person calibration)', () => {
      const c = ctx({ deviceId: 'dev-new', ip: '81.2.69.7' });
      expect(unknown(c, churner())).toMatchObject({ contribution: points.unknownOnKnownNetworkPoints, reason: expect.stringMatching(/nothing else unusual$/) });
      expect(unknown(c, steady())).toMatchObject({
        contribution: points.unknownPoints,
        reason: 'Device dev-new not seen on this account before (1 known device), on a network the account uses; this account rarely changes devices (1 device in its last 25 sign-ins)',
      });
      expect(stableDevices(churner())).toBeUndefined();
    });

    test('at an hour the person never signs in at: full, even for the churner', () => {
      const c = ctx({ deviceId: 'dev-new', ip: '81.2.69.7', time: T0 - 6 * 3_600_000 });
      expect(unknown(c, churner())).toMatchObject({ contribution: points.unknownPoints, reason: expect.stringMatching(/and at 03:00, an hour it does not sign in at$/) });
      expect(loginDeviations(c, historyOf(routine(points.minHistoryForHabits - 1)))).toEqual([]);
    });

    test('on a /24 the account used long ago (a proxy on the victim\'s ISP): full, even for the churner', () => {
      const old = historyOf([
        ...routine(5, { ip: '81.2.60.5' }, T0 - 60 * 86_400_000),
        ...routine(25).map((c, i) => ({ ...c, deviceId: `dev-${Math.floor(i / 3)}` })),
      ]);
      const c = ctx({ deviceId: 'dev-new', ip: '81.2.60.77' });
      expect(loginDeviations(c, old)).toEqual(['on a network it last used 61 days ago (81.2.60.0/24)']);
      expect(unknown(c, old)?.contribution).toBe(points.unknownPoints);
    });
  });

  test('reasons say what happened', () => {
    const reasons = (c: RiskContext) => deviceSignals(c, known()).map((s) => s.reason);
    expect(reasons(ctx({ deviceId: 'dev-new', ip: '90.1.2.3' }))).toEqual(['Device dev-new not seen on this account before (1 known device), and on a network it has not used (90.1.2.0/24)']);
    expect(reasons(ctx({ deviceId: 'dev-new', ip: '81.2.69.7' }))).toEqual(['Device dev-new not seen on this account before (1 known device), on a network the account uses, nothing else unusual']);
    expect(reasons(refresh({ deviceId: 'dev-evil' }))[0]).toMatch(/^Session started on device dev-home but this request comes from device dev-evil/);
    expect(reasons(refresh({ userAgent: UA.firefoxLinux }))).toEqual(['User agent changed within the session: Chrome 126 on Windows 10 → Firefox 128 on Linux']);
    expect(reasons(ctx({ devicePosture: { compliant: false, stale: false, reasons: ['disk not encrypted', 'firewall off'] } }))).toEqual([
      'Device does not meet the posture policy: disk not encrypted, firewall off',
    ]);
    expect(reasons(ctx({ deviceId: 'a-very-long-device-identifier-0123456789', ip: '90.1.2.3' }))[0]).toMatch(/^Device a-very-l… not seen/);
  });
});
