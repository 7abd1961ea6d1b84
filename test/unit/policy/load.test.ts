import { PolicyError, loadPolicySet } from '../../../src/policy/index.ts';
import { POLICIES, SCHEMA } from './fixtures.ts';

function problemOf(fn: () => unknown): PolicyError {
  try {
    fn();
  } catch (err) {
    if (err instanceof PolicyError) return err;
    throw err;
  }
  throw new Error('expected a PolicyError');
}

describe('loadPolicySet', () => {
  test('lists policies with their ids, files, lines and effects', () => {
    const set = loadPolicySet({ schemaText: SCHEMA, policyFiles: [{ file: 'a.cedar', text: POLICIES }] });
    expect(set.policies).toEqual([
      { id: 'scopes-allowed', file: 'a.cedar', line: 2, effect: 'permit', annotations: { id: 'scopes-allowed' } },
      { id: 'admin-needs-compliant-device', file: 'a.cedar', line: 6, effect: 'forbid', annotations: { id: 'admin-needs-compliant-device' } },
      { id: 'a.cedar:10', file: 'a.cedar', line: 10, effect: 'permit', annotations: {} },
    ]);
    expect([...set.named].sort()).toEqual(['Action::read', 'Action::receive_scope', 'Group::editors', 'Scope::admin']);
  });

  test('a syntax error names the file, line and column', () => {
    const text = 'permit (principal, action, resource);\n\npermit (principal, action, resource)\nwhen { ; };\n';
    const err = problemOf(() => loadPolicySet({ schemaText: SCHEMA, policyFiles: [{ file: 'bad.cedar', text }] }));
    expect(err.problems[0]).toMatchObject({ file: 'bad.cedar', line: 4, column: 8 });
    expect(err.message).toMatch(/^invalid access policy: bad\.cedar:4:8: .*unexpected token/);
  });

  test('a policy that does not fit the schema is refused at its line, in the second file', () => {
    const text = '// ok\n@id("typo")\nforbid (principal, action == Action::"receive_scope", resource)\nunless { context.device_compliantt };\n';
    const err = problemOf(() => loadPolicySet({
      schemaText: SCHEMA, policyFiles: [{ file: 'a.cedar', text: POLICIES }, { file: 'b.cedar', text }],
    }));
    expect(err.problems).toHaveLength(1);
    expect(err.problems[0]).toMatchObject({ file: 'b.cedar', line: 4, column: 10 });
    expect(err.message).toMatch(/device_compliantt.*did you mean `device_compliant`/);
  });

  test('an unknown entity type or action is refused', () => {
    const err = problemOf(() => loadPolicySet({ schemaText: SCHEMA, policiesText: 'permit (principal is Robot, action, resource);' }));
    expect(err.message).toMatch(/policies:1:.*Robot/);
  });

  test('a bad schema names the schema file', () => {
    const err = problemOf(() => loadPolicySet({ schemaText: 'entity Person {\n roles: Sett<String> };', schemaFile: 'vigil.cedarschema', policiesText: '' }));
    expect(err.message).toMatch(/^invalid policy schema: vigil\.cedarschema:/);
  });

  test('a JSON schema is accepted too', () => {
    const json = JSON.stringify({ '': { entityTypes: { Person: {} }, actions: { go: { appliesTo: { principalTypes: ['Person'], resourceTypes: ['Person'] } } } } });
    expect(loadPolicySet({ schemaText: json, policiesText: 'permit (principal, action == Action::"go", resource);' }).policies).toHaveLength(1);
  });

  test('a policy id used twice is refused', () => {
    const text = '@id("x") permit (principal, action, resource);\n@id("x") forbid (principal, action, resource);';
    expect(problemOf(() => loadPolicySet({ schemaText: SCHEMA, policiesText: text })).message).toMatch(/policies:2:1: policy id "x" is used twice/);
  });

  test('templates are refused', () => {
    const text = 'permit (principal == ?principal, action, resource);';
    expect(problemOf(() => loadPolicySet({ schemaText: SCHEMA, policiesText: text })).message).toMatch(/templates are not supported/);
  });

  test('non-ASCII text before an error keeps columns in characters', () => {
    const text = '// Zugriff für alle — ✓\npermit (principal, action, resource) when { ; };';
    expect(problemOf(() => loadPolicySet({ schemaText: SCHEMA, policiesText: text })).problems[0]).toMatchObject({ line: 2, column: 45 });
  });
});
