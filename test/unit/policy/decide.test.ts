import { decide, loadPolicySet } from '../../../src/policy/index.ts';
import { POLICIES, SCHEMA, alice, receive, scope } from './fixtures.ts';

const set = loadPolicySet({ schemaText: SCHEMA, policiesText: POLICIES, policiesFile: 'scopes.cedar' });
const compliant = { device_compliant: true, risk_level: 'low' };

describe('decide', () => {
  test('allows with the permit that determined it', () => {
    expect(decide(set, { principal: alice, action: receive, resource: scope('profile'), context: compliant }))
      .toEqual({ decision: 'allow', determining: ['scopes-allowed'], errors: [] });
  });

  test('a forbid on context wins and is named', () => {
    const d = decide(set, { principal: alice, action: receive, resource: scope('admin'), context: { ...compliant, device_compliant: false } });
    expect(d).toEqual({ decision: 'deny', determining: ['admin-needs-compliant-device'], errors: [] });
    expect(decide(set, { principal: alice, action: receive, resource: scope('admin'), context: compliant }).decision).toBe('allow');
  });

  test('default deny: nothing permits, nothing determines', () => {
    const doc = { type: 'Document', id: 'd1', attrs: { owner: { __entity: { type: 'Person', id: 'bob' } } } };
    expect(decide(set, { principal: alice, action: { type: 'Action', id: 'read' }, resource: doc }))
      .toEqual({ decision: 'deny', determining: [], errors: [] });
  });

  test('group membership through parents and entity-valued attributes; unnamed policies are file:line', () => {
    const editor = { ...alice, parents: [{ type: 'Group', id: 'editors' }] };
    const doc = { type: 'Document', id: 'd1', attrs: { owner: { __entity: { type: 'Person', id: 'alice' } } } };
    const d = decide(set, { principal: editor, action: { type: 'Action', id: 'read' }, resource: doc, entities: [{ type: 'Group', id: 'editors', attrs: {} }] });
    expect(d).toEqual({ decision: 'allow', determining: ['scopes.cedar:10'], errors: [] });
  });

  test('a request that does not fit the schema is denied with the reason, not evaluated with a forbid silently erroring', () => {
    const d = decide(set, { principal: alice, action: receive, resource: scope('admin'), context: { risk_level: 'low' } });
    expect(d.decision).toBe('deny');
    expect(d.determining).toEqual([]);
    expect(d.errors.join(' ')).toMatch(/device_compliant/);
  });

  test('values Cedar cannot hold are refused as errors, not thrown', () => {
    const d = decide(set, { principal: alice, action: receive, resource: scope('x'), context: { ...compliant, risk_level: 1.5 as unknown as string } });
    expect(d).toMatchObject({ decision: 'deny', determining: [] });
    expect(d.errors[0]).toMatch(/integers/);
  });

  test('undefined members are absent: optional context attributes', () => {
    expect(decide(set, { principal: alice, action: receive, resource: scope('profile'), context: { ...compliant, acr: undefined } }).decision).toBe('allow');
  });

  test('two sets stay independent (a reload does not change a set already in use)', () => {
    const strict = loadPolicySet({ schemaText: SCHEMA, policiesText: '@id("none") forbid (principal, action, resource);' });
    expect(decide(strict, { principal: alice, action: receive, resource: scope('profile'), context: compliant }))
      .toEqual({ decision: 'deny', determining: ['none'], errors: [] });
    expect(decide(set, { principal: alice, action: receive, resource: scope('profile'), context: compliant }).decision).toBe('allow');
  });

  test('one decision is fast (generous bound on the median: the machine is loaded; bench/policy.ts measures p99)', () => {
    const request = { principal: alice, action: receive, resource: scope('admin'), context: compliant };
    const times: number[] = [];
    for (let i = 0; i < 2000; i += 1) {
      const start = process.hrtime.bigint();
      decide(set, request);
      times.push(Number(process.hrtime.bigint() - start) / 1000);
    }
    times.sort((a, b) => a - b);
    expect(times[Math.floor(times.length / 2)]).toBeLessThan(2000);
  });
});
