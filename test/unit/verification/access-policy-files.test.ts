import { copyFileSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError } from '../../../src/config/index.ts';
import { loadAccessPolicy, SHIPPED_ACCESS_POLICY_DIR, SHIPPED_ACCESS_POLICY_SCHEMA } from '../../../src/verification/index.ts';

const dir = () => mkdtempSync(join(tmpdir(), 'vigil-access-policy-'));
const GUARD = 'forbid (principal, action == Action::"receive_scope", resource == Scope::"admin") unless { context.device.compliant };\n';

describe('VIGIL_ACCESS_POLICY', () => {
  test('empty: the shipped schema and allow-all policy; off: none', () => {
    expect(loadAccessPolicy([])?.policies.map((p) => p.id)).toEqual(['vigil-default-scopes', 'vigil-default-roles']);
    expect(loadAccessPolicy(['off'])).toBeUndefined();
  });

  test('a directory of .cedar files without a schema uses the shipped one; files and directories mix', () => {
    const d = dir();
    copyFileSync(join(SHIPPED_ACCESS_POLICY_DIR, 'default.cedar'), join(d, 'a-default.cedar'));
    writeFileSync(join(d, 'b-guard.cedar'), GUARD);
    writeFileSync(join(d, 'notes.txt'), 'not read');
    const extra = join(dir(), 'more.cedar');
    writeFileSync(extra, '@id("more") forbid (principal, action == Action::"receive_role", resource == Role::"root");');
    const set = loadAccessPolicy([d, extra])!;
    expect(set.policies.map((p) => p.id)).toEqual(['vigil-default-scopes', 'vigil-default-roles', `${join(d, 'b-guard.cedar')}:1`, 'more']);
    expect(set.files[0]).toBe(SHIPPED_ACCESS_POLICY_SCHEMA);
  });

  test('a schema of the directory\'s own is used when it describes Vigil\'s token requests', () => {
    const d = dir();
    writeFileSync(join(d, 'site.cedarschema'), `${readFileSync(SHIPPED_ACCESS_POLICY_SCHEMA, 'utf8')}\nentity Team;\n`);
    writeFileSync(join(d, 'p.cedar'), 'permit (principal, action == Action::"receive_scope", resource);');
    expect(loadAccessPolicy([d])!.files[0]).toBe(join(d, 'site.cedarschema'));
    writeFileSync(join(d, 'site.cedarschema'), 'entity User; entity Doc; action view appliesTo { principal: User, resource: Doc };');
    writeFileSync(join(d, 'p.cedar'), 'permit (principal, action == Action::"view", resource);');
    expect(() => loadAccessPolicy([d])).toThrow(/^VIGIL_ACCESS_POLICY: the schema .*site\.cedarschema does not describe Vigil's token requests .*receive_scope/);
  });

  test.each<[string, () => string[], RegExp]>([
    ['a policy that does not fit the schema, at its line', () => {
      const d = dir();
      writeFileSync(join(d, 'p.cedar'), `// guard\n${GUARD.replace('compliant', 'complaint')}`);
      return [d];
    }, /^VIGIL_ACCESS_POLICY: invalid access policy: .*p\.cedar:2:\d+: .*complaint/],
    ['a missing path', () => ['/nonexistent/policy'], /^VIGIL_ACCESS_POLICY: cannot read \/nonexistent\/policy: ENOENT/],
    ['no policy file', () => [dir()], /^VIGIL_ACCESS_POLICY: no \.cedar policy file in /],
    ['two schemas', () => {
      const d = dir();
      writeFileSync(join(d, 'a.cedarschema'), 'entity A;');
      writeFileSync(join(d, 'b.cedarschema'), 'entity B;');
      return [d];
    }, /^VIGIL_ACCESS_POLICY: one schema only/],
  ])('%s stops the start naming the setting', (_name, paths, message) => {
    const attempt = () => loadAccessPolicy(paths());
    expect(attempt).toThrow(ConfigError);
    expect(attempt).toThrow(message);
  });
});
