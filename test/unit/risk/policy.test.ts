import { readFileSync } from 'node:fs';
import {
  DEFAULT_POLICY, DEFAULT_POLICY_DOCUMENT, DEFAULT_SCORING, RiskPolicyError, decide, decisionStrength, levelFor, parsePolicy,
  type Decision, type RiskEventType, type Signal,
} from '../../../src/risk/index.ts';

const TWO = 'urn:vigil:acr:2fa';
const PHR = 'urn:vigil:acr:phr';
const doc = () => structuredClone(DEFAULT_POLICY_DOCUMENT) as unknown as Record<string, any>;
const signal = (name: string, contribution = 10): Signal => ({ name, contribution, reason: name });

describe('the shipped policy', () => {
  test('config/risk-policy.json is valid and is the built-in default', () => {
    const text = readFileSync(new URL('../../../config/risk-policy.json', import.meta.url), 'utf8');
    expect(JSON.parse(text)).toEqual(DEFAULT_POLICY_DOCUMENT);
    expect(parsePolicy(text)).toEqual(DEFAULT_POLICY);
  });

  test('scoring overrides are merged over the defaults', () => {
    const p = parsePolicy({ ...doc(), scoring: { travel: { impossibleKmh: 800 }, behaviour: { exponents: { hour: 0 } }, networkTags: { tor: 50 } } });
    expect(p.scoring.travel.impossibleKmh).toBe(800);
    expect(p.scoring.travel.fastKmh).toBe(DEFAULT_SCORING.travel.fastKmh);
    expect(p.scoring.behaviour.exponents).toEqual({ ...DEFAULT_SCORING.behaviour.exponents, hour: 0 });
    expect(p.scoring.networkTags).toEqual({ tor: 50 });
    expect(p.scoring.device).toEqual(DEFAULT_SCORING.device);
  });
});

describe('parsePolicy rejects bad policies, naming the bad path', () => {
  test.each<[string, (p: Record<string, any>) => unknown, RegExp]>([
    ['not JSON', () => '{nope', /^risk policy: not valid JSON/],
    ['not an object', () => 42, /^risk policy: \(top level\): /],
    ['wrong version', (p) => ({ ...p, version: 2 }), /^risk policy: version: /],
    ['a refresh action at login', (p) => { p.login.thresholds[0].decision = { action: 'step_up', acr: TWO }; return p; }, /^risk policy: login\.thresholds\[0\]\.decision\.action: .*'allow' \| 'mfa' \| 'deny'/],
    ['a login action at refresh', (p) => { p.refresh.signals.impossible_travel = { action: 'mfa', acr: TWO }; return p; }, /^risk policy: refresh\.signals\.impossible_travel\.action: .*'allow' \| 'step_up' \| 'revoke'/],
    ['mfa without an acr', (p) => { p.login.thresholds[1].decision = { action: 'mfa' }; return p; }, /^risk policy: login\.thresholds\[1\]\.decision\.acr: /],
    ['an unknown acr', (p) => { p.refresh.thresholds[0].decision.acr = 'urn:vigil:acr:9fa'; return p; }, /^risk policy: refresh\.thresholds\[0\]\.decision\.acr: .*urn:vigil:acr:phr/],
    ['a misspelt signal', (p) => { p.login.signals.impossible_travle = { action: 'deny' }; return p; }, /^risk policy: login\.signals\.impossible_travle: .*unknown signal name/],
    ['a score above 100', (p) => { p.refresh.thresholds[2].minScore = 101; return p; }, /^risk policy: refresh\.thresholds\[2\]\.minScore: /],
    ['levels upside down', (p) => ({ ...p, levels: { medium: 70, high: 60 } }), /^risk policy: levels\.medium: medium must not be above high/],
    ['an unknown key', (p) => ({ ...p, thresholds: [] }), /^risk policy: \(top level\): Unrecognized key: "thresholds"/],
    ['an acr on deny', (p) => { p.login.signals.new_country = { action: 'deny', acr: TWO }; return p; }, /^risk policy: login\.signals\.new_country: Unrecognized key: "acr"/],
    ['sensitive not a boolean', (p) => { p.clients['admin-console'].sensitive = 'yes'; return p; }, /^risk policy: clients\.admin-console\.sensitive: /],
    ['a negative speed', (p) => ({ ...p, scoring: { travel: { impossibleKmh: -5 } } }), /^risk policy: scoring\.travel\.impossibleKmh: /],
    ['a bad network tag', (p) => ({ ...p, scoring: { networkTags: { 'Bad Tag': 5 } } }), /^risk policy: scoring\.networkTags\.Bad Tag: .*lower-case/],
    ['points out of range', (p) => ({ ...p, scoring: { networkTags: { tor: 500 } } }), /^risk policy: scoring\.networkTags\.tor: /],
    ['attack factor bounds crossed', (p) => ({ ...p, scoring: { behaviour: { attackFactorMin: 5, attackFactorMax: 2 } } }), /^risk policy: scoring\.behaviour\.attackFactorMin: /],
  ])('%s', (_name, mutate, message) => {
    expect(() => parsePolicy(mutate(doc()))).toThrow(RiskPolicyError);
    expect(() => parsePolicy(mutate(doc()))).toThrow(message);
  });

  test('a minimal policy gets empty tables and defaults', () => {
    const p = parsePolicy({ version: 1, levels: { medium: 30, high: 60 }, login: {}, refresh: {} });
    expect(decide(p, 'login', 'x', 100, [signal('impossible_travel')]).decision).toEqual({ action: 'allow' });
    expect(p.scoring).toEqual(DEFAULT_SCORING);
  });
});

describe('decide with the shipped policy', () => {
  test.each<[string, RiskEventType, string, number, string[], Decision]>([
    ['low score at login', 'login', 'webapp', 10, [], { action: 'allow' }],
    ['medium score at login', 'login', 'webapp', 30, [], { action: 'mfa', acr: TWO }],
    ['high score at login', 'login', 'webapp', 65, [], { action: 'mfa', acr: PHR }],
    ['very high score at login', 'login', 'webapp', 95, [], { action: 'deny' }],
    ['impossible travel at login', 'login', 'webapp', 0, ['impossible_travel'], { action: 'mfa', acr: PHR }],
    ['new country at login', 'login', 'webapp', 0, ['new_country'], { action: 'mfa', acr: TWO }],
    ['non-compliant device at login', 'login', 'webapp', 0, ['device_noncompliant'], { action: 'mfa', acr: PHR }],
    ['known-bad network at login', 'login', 'webapp', 0, ['network_known_bad'], { action: 'deny' }],
    ['low score at refresh', 'refresh', 'webapp', 29, [], { action: 'allow' }],
    ['medium score at refresh', 'refresh', 'webapp', 45, [], { action: 'step_up', acr: TWO }],
    ['high score at refresh', 'refresh', 'webapp', 70, [], { action: 'step_up', acr: PHR }],
    ['very high score at refresh', 'refresh', 'webapp', 85, [], { action: 'revoke' }],
    ['impossible travel at refresh', 'refresh', 'webapp', 0, ['impossible_travel'], { action: 'revoke' }],
    ['stolen refresh token', 'refresh', 'webapp', 0, ['session_device_changed'], { action: 'revoke' }],
    ['new country at refresh', 'refresh', 'webapp', 0, ['new_country'], { action: 'step_up', acr: TWO }],
    ['non-compliant device at refresh', 'refresh', 'webapp', 0, ['device_noncompliant'], { action: 'step_up', acr: PHR }],
    ['strongest rule wins', 'refresh', 'webapp', 45, ['new_country', 'device_noncompliant'], { action: 'step_up', acr: PHR }],
    // admin-console: sensitive, and demands more
    ['sensitive client, score 20 at login', 'login', 'admin-console', 20, [], { action: 'mfa', acr: TWO }],
    ['sensitive client, score 45 at refresh', 'refresh', 'admin-console', 45, [], { action: 'step_up', acr: PHR }],
    ['sensitive client, score 70 at refresh', 'refresh', 'admin-console', 70, [], { action: 'revoke' }],
    ['sensitive client, non-compliant device at login', 'login', 'admin-console', 0, ['device_noncompliant'], { action: 'deny' }],
    ['sensitive client, non-compliant device at refresh', 'refresh', 'admin-console', 0, ['device_noncompliant'], { action: 'revoke' }],
    ['sensitive client keeps the other signal rules', 'refresh', 'admin-console', 0, ['new_country'], { action: 'step_up', acr: TWO }],
  ])('%s', (_name, type, client, score, names, expected) => {
    expect(decide(DEFAULT_POLICY, type, client, score, names.map((n) => signal(n))).decision).toEqual(expected);
  });

  test('the rules behind the decision are named', () => {
    expect(decide(DEFAULT_POLICY, 'refresh', 'webapp', 90, [signal('impossible_travel')]).rules).toEqual(['score 90 ≥ 85', 'signal impossible_travel']);
    expect(decide(DEFAULT_POLICY, 'login', 'webapp', 10, []).rules).toEqual([]);
  });

  test('a client may relax, and a sensitive flag without overrides still applies the sensitive layer', () => {
    const p = doc();
    p.clients = {
      wiki: { login: { thresholds: [{ minScore: 70, decision: { action: 'mfa', acr: TWO } }] }, refresh: { signals: { new_country: { action: 'allow' } } } },
      vault: { sensitive: true },
    };
    const policy = parsePolicy(p);
    expect(decide(policy, 'login', 'wiki', 50, []).decision).toEqual({ action: 'allow' });
    expect(decide(policy, 'login', 'wiki', 70, []).decision).toEqual({ action: 'mfa', acr: TWO });
    expect(decide(policy, 'refresh', 'wiki', 0, [signal('new_country')]).decision).toEqual({ action: 'allow' });
    expect(decide(policy, 'refresh', 'vault', 0, [signal('device_noncompliant')]).decision).toEqual({ action: 'revoke' });
    expect(decide(policy, 'refresh', 'other', 0, [signal('device_noncompliant')]).decision).toEqual({ action: 'step_up', acr: PHR });
  });

  test('decision strength orders allow < 1fa < 2fa < phr < deny/revoke', () => {
    const order: Decision[] = [
      { action: 'allow' }, { action: 'mfa', acr: 'urn:vigil:acr:1fa' }, { action: 'step_up', acr: TWO }, { action: 'mfa', acr: PHR }, { action: 'revoke' },
    ];
    for (let i = 1; i < order.length; i++) expect(decisionStrength(order[i])).toBeGreaterThan(decisionStrength(order[i - 1]));
    expect(decisionStrength({ action: 'deny' })).toBe(decisionStrength({ action: 'revoke' }));
  });

  test.each([[0, 'low'], [29, 'low'], [30, 'medium'], [59, 'medium'], [60, 'high'], [100, 'high']])('score %d is %s', (score, level) => {
    expect(levelFor(DEFAULT_POLICY, score)).toBe(level);
  });
});
