import { compileNetworkLists, evaluatePostureReport, parseReplayLines, replay, type GeoLocation, type ReplayOptions } from '../../../src/risk/index.ts';
import { PLACES, UA } from './fixtures.ts';

/** A stand-in for geoip-lite: a table of /24s. */
const GEO: Record<string, GeoLocation> = {
  '81.2.69': PLACES.london,
  '81.2.70': PLACES.london,
  '1.14.24': PLACES.sydney,
  '90.12.22': PLACES.paris,
  '185.220.101': PLACES.paris,
};
const options: ReplayOptions = {
  geoLookup: (ip) => GEO[ip.split('.').slice(0, 3).join('.')],
  networkTags: compileNetworkLists({ anonymizer: ['185.220.101.0/24'], corporate: ['81.2.70.0/24'] }),
};

const line = (o: Record<string, unknown>) => JSON.stringify({ client: 'webapp', account: 'alice', userAgent: UA.chromeWindows, ...o });
const login = (time: string, o: Record<string, unknown> = {}) => line({ type: 'login', time, session: 's-' + time, ip: '81.2.69.142', device: 'dev-home', outcome: 'success', ...o });
const refresh = (time: string, session: string, o: Record<string, unknown> = {}) => line({ type: 'refresh', time, session, ip: '81.2.69.142', device: 'dev-home', ...o });

describe('parseReplayLines', () => {
  test('reports bad lines by number and keeps the good ones', () => {
    const text = [
      login('2025-03-01T09:00:00Z'),
      '',
      '{"type": "login"',
      line({ type: 'logout', time: '2025-03-01T09:00:00Z', ip: '81.2.69.1' }),
      login('yesterday'),
      login('2025-03-01T09:00:00Z', { ip: '999.1.1.1' }),
      refresh('2025-03-01T09:05:00Z', 's1', { outcome: 'success' }),
      line({ type: 'refresh', time: '2025-03-01T09:05:00Z', ip: '81.2.69.1' }),
      line({ type: 'login', time: '2025-03-01T09:05:00+01:00', ip: '81.2.69.1', account: '' }),
      login('2025-03-01T09:00:00Z', { posture: { diskEncryption: 'yes' } }),
      '   ',
      refresh('2025-03-01T09:05:00.123+02:00', 's1', { extra: 'ignored' }),
    ].join('\n');
    const parsed = parseReplayLines(text);
    expect(parsed.events.map((e) => e.line)).toEqual([1, 12]);
    expect(parsed.errors.map((e) => e.line)).toEqual([3, 4, 5, 6, 7, 8, 9, 10]);
    const message = (n: number) => parsed.errors.find((e) => e.line === n)?.message;
    expect(message(3)).toMatch(/^not valid JSON/);
    expect(message(4)).toMatch(/^type: /);
    expect(message(5)).toMatch(/^time: /);
    expect(message(6)).toBe('ip: not an IPv4 or IPv6 address');
    expect(message(7)).toBe('outcome: only logins have an outcome');
    expect(message(8)).toBe('session: a refresh needs the session it belongs to');
    expect(message(9)).toMatch(/^account: /);
    expect(message(10)).toMatch(/^posture/);
  });

  test('accepts an array of lines', () => {
    expect(parseReplayLines([login('2025-03-01T09:00:00Z'), 'nope']).errors).toEqual([{ line: 2, message: expect.stringMatching(/^not valid JSON/) }]);
  });
});

describe('evaluatePostureReport', () => {
  const at = Date.parse('2025-03-02T09:00:00Z');
  test.each<[string, Record<string, unknown>, { compliant: boolean; stale: boolean; reasons: string[] }]>([
    ['all good', { diskEncryption: true, firewall: true, screenLock: true, edrRunning: true, jailbroken: false, reportedAt: '2025-03-02T08:00:00Z' }, { compliant: true, stale: false, reasons: [] }],
    ['nothing reported', {}, { compliant: true, stale: false, reasons: [] }],
    ['disk and firewall', { diskEncryption: false, firewall: false }, { compliant: false, stale: false, reasons: ['disk not encrypted', 'firewall off'] }],
    ['jailbroken', { jailbroken: true }, { compliant: false, stale: false, reasons: ['jailbroken or rooted'] }],
    ['no lock, no EDR', { screenLock: false, edrRunning: false }, { compliant: false, stale: false, reasons: ['no screen lock', 'EDR not running'] }],
    ['two days old', { reportedAt: '2025-02-28T09:00:00Z' }, { compliant: true, stale: true, reasons: [] }],
  ])('%s', (_name, report, expected) => {
    expect(evaluatePostureReport(report, at)).toEqual(expected);
  });
});

describe('replay', () => {
  test('feeds events in time order, building history, and summarises decisions by type', () => {
    const days = Array.from({ length: 10 }, (_, i) => login(`2025-03-${String(i + 1).padStart(2, '0')}T08:00:00Z`, { session: 'day' + i }));
    const input = [
      // out of order on purpose: the Sydney refresh comes first in the file
      refresh('2025-03-11T08:10:00Z', 's-last', { ip: '1.14.24.34' }),
      ...days,
      login('2025-03-11T08:00:00Z', { session: 's-last' }),
      refresh('2025-03-11T08:05:00Z', 's-last'),
    ];
    const out = replay(input.join('\n'), options);
    expect(out.errors).toEqual([]);
    expect(out.results.map((r) => r.line)).toEqual([2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 1]);
    const sydney = out.results[12];
    expect(sydney).toMatchObject({ type: 'refresh', session: 's-last', decision: { action: 'revoke' }, level: 'high' });
    expect(sydney.signals.find((s) => s.name === 'impossible_travel')?.reason).toMatch(/^Sydney 5 min after this session's last refresh in London: 16,9\d\d km takes at least 20 h \d+ min door to door \(impossible travel\)$/) // the session's 08:05 refresh was its first, so it was recorded;
    expect(out.summary).toEqual({
      events: 13,
      badLines: 0,
      decisions: { login: { allow: 11, mfa: 0, deny: 0 }, refresh: { allow: 1, step_up: 0, revoke: 1 } },
    });
    for (const r of out.results.slice(0, 12)) expect(r.decision).toEqual({ action: 'allow' });
  });

  test('a refresh from another device than the session started on is caught', () => {
    const input = [
      ...Array.from({ length: 5 }, (_, i) => login(`2025-03-0${i + 1}T08:00:00Z`)),
      login('2025-03-06T08:00:00Z', { session: 'victim' }),
      refresh('2025-03-06T08:05:00Z', 'victim'),
      refresh('2025-03-06T08:05:10Z', 'victim', { device: 'dev-thief', userAgent: UA.firefoxLinux }),
    ];
    const out = replay(input, options);
    expect(out.results[6].decision).toEqual({ action: 'allow' });
    expect(out.results[7].decision).toEqual({ action: 'revoke' });
    expect(out.results[7].signals.map((s) => s.name)).toEqual(expect.arrayContaining(['session_device_changed', 'session_agent_changed', 'rapid_refresh']));
  });

  test('failed logins count against the account and the address', () => {
    const input = [
      ...Array.from({ length: 5 }, (_, i) => login(`2025-03-0${i + 1}T08:00:00Z`)),
      ...Array.from({ length: 6 }, (_, i) => login(`2025-03-06T08:0${i}:00Z`, { outcome: 'failure', ip: '90.12.22.32', device: 'dev-x' })),
      login('2025-03-06T08:07:00Z', { ip: '90.12.22.32', device: 'dev-x' }),
    ];
    const out = replay(input, options);
    const last = out.results[out.results.length - 1];
    expect(last.signals.map((s) => s.name)).toEqual(expect.arrayContaining(['failed_logins_account', 'unknown_device', 'new_country']));
    expect(last.decision.action).toBe('mfa');
  });

  test('posture reports are evaluated; network tags and unknown places are applied', () => {
    const input = [
      login('2025-03-01T08:00:00Z', { session: 'a' }),
      refresh('2025-03-01T08:05:00Z', 'a', { posture: { diskEncryption: false, reportedAt: '2025-03-01T08:00:00Z' } }),
      refresh('2025-03-01T08:10:00Z', 'a', { posture: { compliant: false, reasons: ['MDM says no'] }, ip: '81.2.70.9' }),
      login('2025-03-01T09:00:00Z', { session: 'b', ip: '185.220.101.4', device: 'dev-y' }),
      login('2025-03-01T09:30:00Z', { session: 'c', ip: '10.0.0.9' }),
    ];
    const out = replay(input, options);
    expect(out.results[1].decision).toEqual({ action: 'step_up', acr: 'urn:vigil:acr:phr' });
    expect(out.results[1].signals.find((s) => s.name === 'device_noncompliant')?.reason).toBe('Device does not meet the posture policy: disk not encrypted');
    expect(out.results[2].signals.map((s) => s.name)).toEqual(expect.arrayContaining(['device_noncompliant', 'network_corporate']));
    expect(out.results[3].signals.map((s) => s.name)).toEqual(expect.arrayContaining(['network_anonymizer', 'unknown_device']));
    expect(out.results[4].signals.map((s) => s.name)).toContain('unknown_location');
  });

  test('bad lines are reported and the rest still replays; output is deterministic', () => {
    const input = [login('2025-03-01T08:00:00Z'), 'garbage', login('2025-03-02T08:00:00Z')].join('\n');
    const a = replay(input, options);
    expect(a.summary.events).toBe(2);
    expect(a.summary.badLines).toBe(1);
    expect(a.errors[0].line).toBe(2);
    expect(replay(input, options)).toEqual(a);
  });

  test('a policy passed in is used', async () => {
    const { parsePolicy, DEFAULT_POLICY_DOCUMENT } = await import('../../../src/risk/index.ts');
    const strict = parsePolicy({ ...structuredClone(DEFAULT_POLICY_DOCUMENT), login: { thresholds: [{ minScore: 0, decision: { action: 'deny' } }] } });
    const out = replay([login('2025-03-01T08:00:00Z')], { ...options, policy: strict });
    expect(out.summary.decisions.login).toEqual({ allow: 0, mfa: 0, deny: 1 });
  });
});
