import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { checkTokenSchema, loadPolicySet, tokenRequestParts, tokenVerdict, type TokenFacts } from '../../../src/policy/index.ts';

const ROOT = join(import.meta.dirname, '../../..');
const schemaText = readFileSync(join(ROOT, 'config/policy/vigil.cedarschema'), 'utf8');
const shipped = readFileSync(join(ROOT, 'config/policy/default.cedar'), 'utf8');
const withShipped = (text: string) => loadPolicySet({ schemaText, policyFiles: [{ file: 'default.cedar', text: shipped }, { file: 'site.cedar', text }] });

const T = Date.UTC(2026, 0, 5, 9, 30); // a Monday
const facts = (over: Partial<TokenFacts> = {}): TokenFacts => ({
  person: { id: 'ada', email: 'ada@example.com', emailVerified: true, roles: ['admin', 'staff'] },
  client: { id: 'notes', sensitive: false, firstParty: false, adminTool: false },
  grantType: 'refresh_token',
  risk: { level: 'low', score: 3, signals: [] },
  device: { id: 'd1', compliant: true, stale: false },
  acr: 'urn:vigil:acr:2fa', amr: ['pwd', 'otp'], networkTags: ['corporate'], time: T,
  ...over,
});

describe('the shipped policy', () => {
  const set = loadPolicySet({ schemaText, policiesText: shipped });

  test.each<[string, Partial<TokenFacts>]>([
    ['a compliant device, low risk', {}],
    ['the engine off, no device, no acr', { risk: undefined, device: undefined, acr: undefined, amr: undefined, networkTags: undefined }],
    ['high risk from a non-compliant device on a sensitive client', { risk: { level: 'high', score: 90, signals: ['device_noncompliant'] }, device: { id: 'd', compliant: false, stale: true }, client: { id: 'vault', sensitive: true, firstParty: false, adminTool: false } }],
    ['a code exchange of a person without roles', { grantType: 'authorization_code', person: { id: 'bo', email: '', emailVerified: false, roles: [] } }],
  ])('gives every scope and role, as Vigil did without a policy: %s', (_name, over) => {
    const f = facts(over);
    const verdict = tokenVerdict(set, f, ['openid', 'offline_access', 'email', 'profile', 'admin:write']);
    expect(verdict).toMatchObject({ scopes: ['openid', 'offline_access', 'email', 'profile', 'admin:write'], roles: f.person.roles, withheldScopes: [], withheldRoles: [], refused: false });
    expect(verdict.allowedBy).toEqual(f.person.roles.length ? ['vigil-default-scopes', 'vigil-default-roles'] : ['vigil-default-scopes']);
    // Permits without condition and no forbid: nothing to evaluate.
    expect(verdict.evaluations).toBe(0);
    expect(verdict.withheldScopes).toEqual([]);
  });
});

describe('tokenVerdict', () => {
  test('a scope guarded by device compliance is withheld from a non-compliant device, naming the policy', () => {
    const set = withShipped(`@id("admin-scope-compliant")
      forbid (principal, action == Action::"receive_scope", resource == Scope::"admin:write") unless { context.device.compliant };`);
    expect(tokenVerdict(set, facts(), ['openid', 'admin:write']).scopes).toEqual(['openid', 'admin:write']);
    const verdict = tokenVerdict(set, facts({ device: { id: 'd1', compliant: false, stale: false } }), ['openid', 'admin:write', 'email']);
    expect(verdict).toMatchObject({ scopes: ['openid', 'email'], withheldScopes: [{ name: 'admin:write', determining: ['admin-scope-compliant'], errors: [] }], refused: false });
    expect(verdict.evaluations).toBe(2); // admin:write, then the scopes no policy names once; roles are permitted outright
    expect(tokenVerdict(set, facts({ device: undefined }), ['admin:write'])).toMatchObject({ scopes: [], refused: true, refusedBy: [] });
  });

  test('a role guarded by acr, a scope by risk level and by time; membership in a role', () => {
    const set = withShipped(`
      forbid (principal, action == Action::"receive_role", resource == Role::"admin") unless { context.acr == "urn:vigil:acr:phr" };
      forbid (principal in Role::"staff", action == Action::"receive_scope", resource == Scope::"payroll")
        when { context.risk.level == "high" || context.time.weekday == 0 || context.time.weekday == 6 };`);
    const weekday = tokenVerdict(set, facts(), ['payroll']);
    expect(weekday).toMatchObject({ scopes: ['payroll'], roles: ['staff'], withheldRoles: [{ name: 'admin', determining: ['site.cedar:2'] }] });
    expect(tokenVerdict(set, facts({ acr: 'urn:vigil:acr:phr' }), ['payroll']).roles).toEqual(['admin', 'staff']);
    expect(tokenVerdict(set, facts({ time: T + 5 * 86_400_000 }), ['payroll']).refused).toBe(true); // Saturday
    expect(tokenVerdict(set, facts({ risk: { level: 'high', score: 70, signals: [] } }), ['openid', 'payroll']).scopes).toEqual(['openid']);
  });

  test('@refuse: the whole request is refused rather than narrowed', () => {
    const set = withShipped(`@id("no-anonymizers") @refuse
      forbid (principal, action == Action::"receive_scope", resource) when { context.network_tags.contains("anonymizer") && resource == Scope::"offline_access" };`);
    expect(tokenVerdict(set, facts({ networkTags: ['anonymizer'] }), ['openid', 'offline_access'])).toMatchObject({ scopes: ['openid'], refused: true, refusedBy: ['no-anonymizers'] });
    expect(tokenVerdict(set, facts(), ['openid', 'offline_access']).refused).toBe(false);
  });

  test('without a permit, nothing is given (deny by default)', () => {
    const set = loadPolicySet({ schemaText, policiesText: 'permit (principal, action == Action::"receive_scope", resource == Scope::"openid");' });
    expect(tokenVerdict(set, facts(), ['openid', 'email'])).toMatchObject({ scopes: ['openid'], roles: [], refused: false });
  });

  test('the request parts: the person in their roles, the context in the schema\'s shape', () => {
    const { principal, context } = tokenRequestParts(facts({ risk: undefined, device: undefined }));
    expect(principal.parents).toEqual([{ type: 'Role', id: 'admin' }, { type: 'Role', id: 'staff' }]);
    expect(context).toMatchObject({
      risk: { assessed: false, level: 'unassessed', score: 0, signals: [] }, device: { registered: false, compliant: false },
      time: { hour: 9, weekday: 1, epoch: T / 1000 }, network_tags: ['corporate'], grant_type: 'refresh_token',
    });
  });
});

describe('checkTokenSchema', () => {
  test('Vigil\'s schema fits; one without the token context does not', () => {
    expect(checkTokenSchema(loadPolicySet({ schemaText, policiesText: shipped }))).toEqual([]);
    const other = loadPolicySet({
      schemaText: 'entity Person; entity Scope; entity Role; action receive_scope appliesTo { principal: Person, resource: Scope, context: { mfa: Bool } }; action receive_role appliesTo { principal: Person, resource: Role };',
      policiesText: 'forbid (principal, action == Action::"receive_scope", resource) unless { context.mfa };',
    });
    expect(checkTokenSchema(other).join(' ')).toMatch(/^receive_scope: .*mfa.*receive_role: /);
  });
});

test('a forbid that errs at evaluation withholds (fails closed) instead of being skipped', () => {
  const set = withShipped('@id("x") forbid (principal, action == Action::"receive_scope", resource == Scope::"a") when { context.risk.score + 9223372036854775807 > 0 };');
  expect(tokenVerdict(set, facts(), ['openid', 'a'])).toMatchObject({ scopes: ['openid'], withheldScopes: [{ name: 'a', errors: [expect.stringMatching(/overflow/)] }] });
});
