import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FilterParser } from 'ldapts';
import { ldapSettingsSchema, escapeFilterValue, fillFilter, DEFAULT_USER_FILTER } from '../../../src/federation/ldap/index.ts';
import { parseFederationFile, sealFederationSecret } from '../../../src/federation/index.ts';
import { KeyRing } from '../../../src/crypto/index.ts';

const base = { url: 'ldaps://dc1.corp.example', bind_dn: 'cn=vigil,dc=corp,dc=example', bind_password: 'sealed', base_dn: 'dc=corp,dc=example' };
const problems = (input: Record<string, unknown>) => {
  const result = ldapSettingsSchema.safeParse(input);
  return result.success ? [] : result.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
};

test('the defaults: OpenLDAP attributes, mail filter, 5 s timeout, re-check every 5 min, fail closed', () => {
  const s = ldapSettingsSchema.parse(base);
  expect(s).toMatchObject({
    start_tls: false, user_filter: DEFAULT_USER_FILTER, group_name: 'dn', active_directory: false,
    attributes: { id: 'entryUUID', email: 'mail', name: 'cn', groups: 'memberOf' },
    timeout_seconds: 5, recheck_seconds: 300, unreachable_grace_seconds: 0,
  });
});

test('a cleartext bind is refused: ldap:// needs start_tls, ldaps:// must not have it', () => {
  expect(problems({ ...base, url: 'ldap://dc1.corp.example' })).toEqual([expect.stringMatching(/^url: ldap:\/\/ sends passwords in cleartext/)]);
  expect(problems({ ...base, url: 'ldap://dc1.corp.example:389', start_tls: true })).toEqual([]);
  expect(problems({ ...base, start_tls: true })).toEqual([expect.stringMatching(/^start_tls: /)]);
});

test.each([
  [{ url: 'https://dc1.corp.example' }, /^url: must be an ldaps:\/\/ or ldap:\/\/ URL/],
  [{ url: 'ldaps://dc1.corp.example/dc=corp' }, /^url: only scheme, host and port/],
  [{ url: 'not a url' }, /^url: /],
  [{ user_filter: '(mail=x)' }, /^user_filter: must contain \{login\}/],
  [{ user_filter: '(&(mail={login})' }, /^user_filter: has unbalanced parentheses/],
  [{ disabled_filter: 'employeeType=disabled' }, /^disabled_filter: must be an LDAP filter in parentheses/],
  [{ group_search: { base_dn: 'ou=groups,dc=corp', filter: '(member=x)' } }, /^group_search.filter: must contain \{dn\}/],
  [{ attributes: { id: 'entry UUID' } }, /^attributes.id: must be an LDAP attribute name/],
  [{ timeout_seconds: 0 }, /^timeout_seconds: /],
  [{ ca_file: '/nonexistent/ca.pem' }, /^ca_file: cannot read \/nonexistent\/ca.pem/],
  [{ bind_password: '' }, /^bind_password: /],
  [{ surprise: true }, /unrecognized key/i],
])('%j is refused naming the field', (change, message) => {
  expect(problems({ ...base, ...change })).toEqual(expect.arrayContaining([expect.stringMatching(message)]));
});

test('ca_file is read at load: a file without a certificate is refused, a PEM is kept', () => {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-ldap-ca-'));
  writeFileSync(join(dir, 'junk.pem'), 'hello');
  expect(problems({ ...base, ca_file: join(dir, 'junk.pem') })).toEqual([expect.stringMatching(/^ca_file: .*not a PEM certificate/)]);
});

test('RFC 4515 escaping: the five specials become \\XX, everything else stays', () => {
  expect(escapeFilterValue('*)(uid=*')).toBe('\\2a\\29\\28uid=\\2a');
  expect(escapeFilterValue('a\\b\u0000c')).toBe('a\\5cb\\00c');
  expect(escapeFilterValue('jürgen@corp.example')).toBe('jürgen@corp.example');
});

test('a login cannot change the filter: injections stay one equality value', () => {
  for (const login of ['*', '*)(uid=*', 'x)(|(objectClass=*)', 'ada@corp.example)(mail=*', '\\2a', '$&$`$\'']) {
    const filter = fillFilter(DEFAULT_USER_FILTER, { login });
    const parsed = FilterParser.parseString(filter) as unknown as { filters: { attribute: string; value: string; type: number }[] };
    expect(parsed.filters).toHaveLength(2);
    expect(parsed.filters[1]).toMatchObject({ attribute: 'mail', value: login });
  }
});

test('fillFilter leaves unknown placeholders and puts $-patterns in literally', () => {
  expect(fillFilter('(&(member={dn})(x={other}))', { dn: "cn=a$&,dc=b" })).toBe('(&(member=cn=a$&,dc=b)(x={other}))');
});

test('the documented Active Directory filters are accepted', () => {
  expect(problems({
    ...base,
    user_filter: '(&(objectCategory=person)(objectClass=user)(|(userPrincipalName={login})(mail={login})))',
    group_search: { base_dn: 'DC=corp,DC=example', filter: '(member:1.2.840.113556.1.4.1941:={dn})' },
    attributes: { id: 'objectGUID', name: 'displayName' },
    active_directory: true,
  })).toEqual([]);
  expect(fillFilter('(|(userPrincipalName={login})(mail={login}))', { login: 'a*' })).toBe('(|(userPrincipalName=a\\2a)(mail=a\\2a))');
});

describe('in the federation file', () => {
  const keys = new KeyRing(Buffer.alloc(32, 1));
  const provider = (fields: Record<string, unknown>) => ({
    id: 'corp', kind: 'ldap', display_name: 'Corp', domains: ['corp.example'],
    ...base, bind_password: sealFederationSecret(keys, 'corp', 'bind_password', 'service secret'), ...fields,
  });

  test('an ldap provider loads with its defaults and its bind password opened', () => {
    const file = parseFederationFile({ providers: [provider({})] }, keys);
    expect(file.providers[0]).toMatchObject({ kind: 'ldap', recheck_seconds: 300, attributes: { id: 'entryUUID' } });
    expect(file.secrets.get('corp')?.get('bind_password')).toBe('service secret');
  });

  test('plain ldap:// without start_tls, or a plaintext bind password, is refused naming the provider and field', () => {
    expect(() => parseFederationFile({ providers: [provider({ url: 'ldap://dc1.corp.example' })] }, keys)).toThrow(/providers\.corp\.url: ldap:\/\/ sends passwords in cleartext/);
    expect(() => parseFederationFile({ providers: [provider({ bind_password: 'hunter2' })] }, keys)).toThrow(/providers\.corp\.bind_password/);
  });
});
