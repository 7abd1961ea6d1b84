import { loadPolicySet, project, tokenVerdict, type ReadTree, type TokenFacts } from '../../../src/policy/index.ts';
import { POLICIES, SCHEMA } from './fixtures.ts';

const VIGIL_SCHEMA = `entity Role; entity Person in [Role] { email: String, email_verified: Bool, roles: Set<String> }; entity Scope;
type Ctx = { grant_type: String, client: { id: String, sensitive: Bool, first_party: Bool, admin_tool: Bool },
  risk: { assessed: Bool, level: String, score: Long, signals: Set<String> }, device: { registered: Bool, id: String, compliant: Bool, stale: Bool },
  acr: String, amr: Set<String>, network_tags: Set<String>, time: { hour: Long, weekday: Long, epoch: Long } };
action receive_scope appliesTo { principal: Person, resource: Scope, context: Ctx };
action receive_role appliesTo { principal: Person, resource: Role, context: Ctx };`;

describe('what the policies read', () => {
  test('attribute paths of context and principal; a variable used whole is read whole', () => {
    const set = loadPolicySet({ schemaText: SCHEMA, policiesText: POLICIES });
    expect(set.reads.context).toEqual(new Map([['device_compliant', true]]));
    // `resource.owner == principal`: principal itself is compared, so it is read whole.
    expect(set.reads.principal).toBe(true);
    const whole = loadPolicySet({ schemaText: SCHEMA, policiesText: 'permit (principal, action, resource) when { principal has roles && context has acr && context.acr == "x" };' });
    expect(whole.reads.context).toEqual(new Map([['acr', true]]));
    expect(whole.reads.principal).toEqual(new Map([['roles', true]]));
  });

  test('projection keeps only what is read, nested records pruned', () => {
    const tree = new Map<string, ReadTree>([['device', new Map<string, ReadTree>([['compliant', true]])], ['acr', true]]);
    expect(project({ device: { compliant: false, id: 'd', stale: true }, acr: 'a', amr: ['pwd'] }, tree)).toEqual({ device: { compliant: false }, acr: 'a' });
    expect(project({ a: 1 }, true)).toEqual({ a: 1 });
  });

  test('a token verdict is remembered by what the policies read, and decided anew when that changes', () => {
    const set = loadPolicySet({
      schemaText: VIGIL_SCHEMA,
      policiesText: 'permit (principal, action, resource);\n@id("g") forbid (principal, action == Action::"receive_scope", resource == Scope::"admin") unless { context.device.compliant };',
    });
    const facts = (compliant: boolean, time: number): TokenFacts => ({
      person: { id: 'ada', email: 'a@x', emailVerified: true, roles: [] }, client: { id: 'c', sensitive: false, firstParty: false, adminTool: false },
      grantType: 'refresh_token', device: { id: 'd', compliant, stale: false }, time,
    });
    expect(tokenVerdict(set, facts(true, 1_000), ['openid', 'admin'])).toMatchObject({ scopes: ['openid', 'admin'], evaluations: 2 });
    // Another time, another person's id: the policies read neither.
    expect(tokenVerdict(set, { ...facts(true, 9_000_000), person: { id: 'bo', email: 'b@x', emailVerified: false, roles: [] } }, ['openid', 'admin']))
      .toMatchObject({ scopes: ['openid', 'admin'], evaluations: 0 });
    expect(tokenVerdict(set, facts(false, 1_000), ['openid', 'admin'])).toMatchObject({ scopes: ['openid'], withheldScopes: [{ name: 'admin', determining: ['g'] }], evaluations: 2 });
  });
});
