import { readFileSync } from 'node:fs';
import {
  DEFAULT_POSTURE_POLICY_PATH, compareVersions, evaluatePosture, loadPosturePolicy, parsePosturePolicy, PosturePolicyError, type PostureFields,
} from '../../../src/devices/index.ts';

const NOW = Date.parse('2026-06-01T12:00:00Z');
const policy = loadPosturePolicy();
const good: PostureFields = { os: 'macOS', osVersion: '14.5', diskEncryption: true, firewall: true, screenLock: true, edrRunning: true, jailbroken: false };

describe('posture policy evaluation', () => {
  test.each<[string, Partial<PostureFields>, number, { compliant: boolean; stale: boolean; reasons: string[] }]>([
    ['a healthy Mac reported a minute ago', {}, 60, { compliant: true, stale: false, reasons: [] }],
    ['disk not encrypted', { diskEncryption: false }, 60, { compliant: false, stale: false, reasons: ['disk not encrypted'] }],
    ['firewall off and no screen lock', { firewall: false, screenLock: false }, 60, { compliant: false, stale: false, reasons: ['firewall off', 'no screen lock'] }],
    ['EDR not running', { edrRunning: false }, 60, { compliant: false, stale: false, reasons: ['EDR not running'] }],
    ['jailbroken', { jailbroken: true }, 60, { compliant: false, stale: false, reasons: ['jailbroken or rooted'] }],
    ['macOS below the minimum', { osVersion: '13.6.1' }, 60, { compliant: false, stale: false, reasons: ['macOS 13.6.1 is older than the minimum 14.0'] }],
    ['macOS exactly the minimum', { osVersion: '14' }, 60, { compliant: true, stale: false, reasons: [] }],
    ['OS name in another case', { os: 'MACOS' }, 60, { compliant: true, stale: false, reasons: [] }],
    ['Windows build below the minimum', { os: 'Windows', osVersion: '10.0.19044' }, 60, { compliant: false, stale: false, reasons: ['Windows 10.0.19044 is older than the minimum 10.0.19045'] }],
    ['Windows 11', { os: 'Windows', osVersion: '10.0.22631' }, 60, { compliant: true, stale: false, reasons: [] }],
    ['an OS the policy does not name', { os: 'Plan 9', osVersion: '4' }, 60, { compliant: false, stale: false, reasons: ['Plan 9 is not an allowed operating system'] }],
    ['a version that cannot be compared', { osVersion: '14.2-beta' }, 60, { compliant: false, stale: false, reasons: ['macOS version "14.2-beta" is not a version Vigil can compare'] }],
    ['a healthy report two days old', {}, 2 * 86400, { compliant: true, stale: true, reasons: [] }],
    ['a bad report two days old', { firewall: false }, 2 * 86400, { compliant: false, stale: true, reasons: ['firewall off'] }],
  ])('%s', (_name, change, ageSeconds, expected) => {
    expect(evaluatePosture({ ...good, ...change }, NOW - ageSeconds * 1000, NOW, policy)).toEqual(expected);
  });

  test('no report yet: not compliant, stale', () => {
    expect(evaluatePosture(undefined, undefined, NOW, policy)).toEqual({ compliant: false, stale: true, reasons: ['no posture report'] });
  });

  test('only the required checks count; other operating systems may be allowed', () => {
    const lax = parsePosturePolicy({ version: 1, freshnessSeconds: 3600, requiredChecks: ['diskEncryption'], allowOtherOs: true });
    expect(evaluatePosture({ ...good, os: 'Plan 9', firewall: false, edrRunning: false }, NOW, NOW, lax)).toEqual({ compliant: true, stale: false, reasons: [] });
    expect(evaluatePosture({ ...good, diskEncryption: false }, NOW - 3601_000, NOW, lax)).toEqual({ compliant: false, stale: true, reasons: ['disk not encrypted'] });
  });
});

describe('posture policy file', () => {
  test('the shipped file is valid', () => {
    expect(parsePosturePolicy(JSON.parse(readFileSync(DEFAULT_POSTURE_POLICY_PATH, 'utf8')))).toMatchObject({ version: 1, freshnessSeconds: 86400, maxClockSkewSeconds: 60 });
  });

  test.each<[string, unknown, RegExp]>([
    ['an unknown check', { version: 1, freshnessSeconds: 3600, requiredChecks: ['antivirus'] }, /requiredChecks\.0/],
    ['a freshness below a minute', { version: 1, freshnessSeconds: 5 }, /freshnessSeconds/],
    ['a version that is not numeric', { version: 1, freshnessSeconds: 3600, minOsVersions: { macOS: 'fourteen' } }, /minOsVersions\.macOS/],
    ['an unknown key', { version: 1, freshnessSeconds: 3600, typo: true }, /typo/],
    ['a wrong version', { version: 2, freshnessSeconds: 3600 }, /version/],
  ])('refuses %s', (_name, value, message) => {
    expect(() => parsePosturePolicy(value)).toThrow(PosturePolicyError);
    expect(() => parsePosturePolicy(value)).toThrow(message);
  });

  test('a missing file is a readable error', () => {
    expect(() => loadPosturePolicy('/nonexistent/posture.json')).toThrow(/cannot read the posture policy/);
  });
});

describe('compareVersions', () => {
  test.each<[string, string, number | undefined]>([
    ['14.5', '14.0', 1], ['14', '14.0.0', 0], ['13.9.9', '14', -1], ['10.0.19045', '10.0.19045', 0], ['2.10', '2.9', 1], ['x', '1', undefined],
  ])('%s vs %s', (a, b, expected) => {
    expect(compareVersions(a, b)).toBe(expected);
  });
});
