import { DEFAULT_SCORING, deviceSignals, emptyHistory, type RiskContext, type RiskHistory } from '../../../src/risk/index.ts';
import { UA, ctx, historyOf, routine } from './fixtures.ts';

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

  test('reasons say what happened', () => {
    const reasons = (c: RiskContext) => deviceSignals(c, known()).map((s) => s.reason);
    expect(reasons(ctx({ deviceId: 'dev-new', ip: '90.1.2.3' }))).toEqual(['Device dev-new not seen on this account before (1 known device), on a network it has not used']);
    expect(reasons(refresh({ deviceId: 'dev-evil' }))[0]).toMatch(/^Session started on device dev-home but this request comes from device dev-evil/);
    expect(reasons(refresh({ userAgent: UA.firefoxLinux }))).toEqual(['User agent changed within the session: Chrome 126 on Windows 10 → Firefox 128 on Linux']);
    expect(reasons(ctx({ devicePosture: { compliant: false, stale: false, reasons: ['disk not encrypted', 'firewall off'] } }))).toEqual([
      'Device does not meet the posture policy: disk not encrypted, firewall off',
    ]);
    expect(reasons(ctx({ deviceId: 'a-very-long-device-identifier-0123456789', ip: '90.1.2.3' }))[0]).toMatch(/^Device a-very-l… not seen/);
  });
});
