/** The federation file: validation (kinds, domains, sealed secrets), home realm discovery, buttons, and the assurance an upstream earns. */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError } from '../../../src/config/index.ts';
import { KeyRing } from '../../../src/crypto/index.ts';
import { assurance, FederationRegistry, loadFederationFile, parseFederationFile, rolesFor, sealFederationSecret, type ProviderConfig } from '../../../src/federation/index.ts';
import { isSpecialUse, outgoingFetch } from '../../../src/http/index.ts';

const keys = new KeyRing(randomBytes(32));
const oidc = (over: Record<string, unknown> = {}) => ({ id: 'corp', kind: 'oidc', display_name: 'Corp', issuer: 'https://login.corp.example', client_id: 'vigil', ...over });
const parse = (providers: unknown[]) => parseFederationFile({ providers }, keys);
const problem = (providers: unknown[]) => {
  try {
    parse(providers);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as Error).message;
  }
  throw new Error('the file was accepted');
};

describe('the federation file', () => {
  test('defaults: no domains, a button, no provisioning, untrusted acr, the standard claims', () => {
    const [p] = parse([oidc()]).providers;
    expect(p).toMatchObject({ domains: [], provisioning: { allowed: false, default_roles: [] }, group_roles: {}, claims: { email: 'email', name: 'name', groups: 'groups' } });
    expect(p.trusted_acr).toBeUndefined();
  });

  test('refused: an unknown kind, a field of another kind, a domain in two providers, an id twice, a bad acr', () => {
    expect(problem([oidc({ kind: 'kerberos' })])).toMatch(/providers\.corp\.kind: kind must be one of "oidc"/);
    expect(problem([oidc({ bind_dn: 'cn=x' })])).toMatch(/providers\.corp: Unrecognized key: "bind_dn"/);
    expect(problem([oidc({ domains: ['corp.example'] }), oidc({ id: 'other', domains: ['corp.example'] })])).toMatch(/providers\.other\.domains: corp\.example is routed to corp already/);
    expect(problem([oidc(), oidc()])).toMatch(/corp is listed twice/);
    expect(problem([oidc({ trusted_acr: { mfa: 'urn:vigil:acr:3fa' } })])).toMatch(/providers\.corp\.trusted_acr\.mfa/);
    expect(problem([oidc({ domains: ['Corp.Example'] })])).toMatch(/lower-case email domain/);
    expect(problem([oidc({ issuer: 'http://login.corp.example' })])).toMatch(/issuer must be an https URL/);
  });

  test('a plaintext secret is refused naming the field, never repeating it; a sealed one opens only for its provider and field', () => {
    const message = problem([oidc({ client_secret: 'hunter2-plain' })]);
    expect(message).toMatch(/providers\.corp\.client_secret: must be a sealed value/);
    expect(message).not.toContain('hunter2');
    const sealed = sealFederationSecret(keys, 'corp', 'client_secret', 's3cret');
    expect(parse([oidc({ client_secret: sealed })]).secrets.get('corp')?.get('client_secret')).toBe('s3cret');
    expect(problem([oidc({ id: 'other', client_secret: sealed })])).toMatch(/providers\.other\.client_secret: the sealed value does not open/);
    expect(() => parseFederationFile({ providers: [oidc({ client_secret: sealed })] }, new KeyRing(randomBytes(32)))).toThrow(/does not open with this master key/);
  });

  test('the loader names the setting and the file', () => {
    const dir = mkdtempSync(join(tmpdir(), 'vigil-federation-'));
    const path = join(dir, 'federation.json');
    writeFileSync(path, '{ "providers": [');
    expect(() => loadFederationFile(path, keys)).toThrow(new RegExp(`^VIGIL_FEDERATION_FILE: ${path}: not valid JSON`));
    expect(() => loadFederationFile(join(dir, 'missing.json'), keys)).toThrow(/VIGIL_FEDERATION_FILE: .*missing\.json: cannot read it/);
    expect(loadFederationFile(undefined, keys).providers).toEqual([]);
  });
});

describe('home realm discovery and buttons', () => {
  const registry = new FederationRegistry(parse([
    oidc({ domains: ['corp.example', 'corp-labs.example'] }),
    oidc({ id: 'partner', display_name: 'Partner', domains: ['partner.example'], button: false }),
  ]), { fetch, issuer: 'https://vigil.example', timeoutMs: 1000 });

  test('the email domain routes, case-insensitively; other domains are local', () => {
    expect(registry.route('ada@corp.example')?.config.id).toBe('corp');
    expect(registry.route('Ada@CORP-LABS.example')?.config.id).toBe('corp');
    expect(registry.route('bo@partner.example')?.config.id).toBe('partner');
    expect(registry.route('ada@sub.corp.example')).toBeUndefined();
    expect(registry.route('ada@elsewhere.example')).toBeUndefined();
  });

  test('buttons: only the providers that want one', () => {
    expect(registry.buttons()).toEqual([{ id: 'corp', displayName: 'Corp' }]);
    expect(registry.byIssuer('https://login.corp.example')?.config.id).toBe('corp');
  });
});

describe('assurance and roles', () => {
  const base = parse([oidc({
    provisioning: { allowed: true, default_roles: ['staff'] }, group_roles: { eng: ['dev'], admins: ['admin', 'dev'] },
  })]).providers[0];
  const trusted: ProviderConfig = { ...base, trusted_acr: { 'http://schemas.openid.net/pape/policies/2007/06/multi-factor': 'urn:vigil:acr:2fa', hwk: 'urn:vigil:acr:phr' } };

  test('an untrusted provider earns one factor whatever it asserts', () => {
    expect(assurance(base, { acr: 'http://schemas.openid.net/pape/policies/2007/06/multi-factor', amr: ['hwk', 'mfa'] })).toBe('urn:vigil:acr:1fa');
  });

  test('a trusted one earns what its acr or amr maps to, the strongest; unmapped values count for nothing', () => {
    expect(assurance(trusted, { acr: 'http://schemas.openid.net/pape/policies/2007/06/multi-factor' })).toBe('urn:vigil:acr:2fa');
    expect(assurance(trusted, { acr: 'http://schemas.openid.net/pape/policies/2007/06/multi-factor', amr: ['pwd', 'hwk'] })).toBe('urn:vigil:acr:phr');
    expect(assurance(trusted, { acr: 'urn:other', amr: ['pwd'] })).toBe('urn:vigil:acr:1fa');
    expect(assurance(trusted, { acr: 'constructor' })).toBe('urn:vigil:acr:1fa');
  });

  test('roles: the default roles and the roles of each group', () => {
    expect(rolesFor(base, ['eng', 'admins', 'unknown'])).toEqual(['admin', 'dev', 'staff']);
    expect(rolesFor(base, [])).toEqual(['staff']);
  });
});

describe('the outgoing fetch', () => {
  test('special-use addresses are refused unless the host is allowed', async () => {
    expect(isSpecialUse('127.0.0.1')).toBe(true);
    expect(isSpecialUse('10.1.2.3')).toBe(true);
    expect(isSpecialUse('::1')).toBe(true);
    expect(isSpecialUse('93.184.216.34')).toBe(false);
    expect(isSpecialUse('2606:4700::1111')).toBe(false);
    expect(isSpecialUse('::ffff:127.0.0.1')).toBe(true);
    expect(isSpecialUse('::ffff:93.184.216.34')).toBe(false);
    const guarded = outgoingFetch({ allowedHosts: [], timeoutMs: 2000 });
    await expect(guarded('http://127.0.0.1:9/x')).rejects.toThrow(/private or loopback/);
    await expect(guarded('http://localhost:9/x')).rejects.toThrow(/private or loopback/);
    await expect(guarded('file:///etc/passwd')).rejects.toThrow(/not fetched/);
    // Allowed: the call is made (and fails only because nothing listens there).
    await expect(outgoingFetch({ allowedHosts: ['127.0.0.1:9'], timeoutMs: 2000 })('http://127.0.0.1:9/x')).rejects.toThrow(/ECONNREFUSED/);
  });
});
