/** The SAML fields of a provider in the federation file: defaults, and what is refused with which words. */
import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import { KeyRing } from '../../../src/crypto/index.ts';
import { parseFederationFile } from '../../../src/federation/index.ts';
import { DEFAULT_ATTRIBUTES, parseIdpMetadata, refineSamlProvider, samlFields, samlProviderSchema } from '../../../src/federation/saml/index.ts';

const base = { id: 'corp', kind: 'saml' as const };
const problems = (input: Record<string, unknown>) => {
  const result = samlProviderSchema.safeParse({ ...base, ...input });
  return result.success ? [] : result.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
};

test('defaults: assertion signature, one minute of skew, unspecified NameID, the usual attribute names', () => {
  const parsed = samlProviderSchema.parse({ ...base, idp_metadata_file: '/etc/vigil/idp.xml' });
  expect(parsed).toMatchObject({
    want_authn_response_signed: false,
    clock_skew_seconds: 60,
    name_id_format: 'urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified',
    attributes: DEFAULT_ATTRIBUTES,
    trust_email_verified: false,
  });
  expect(parsed.sp_entity_id).toBeUndefined();
  expect(parsed.attributes.email).toContain('http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress');
});

test('exactly one of idp_metadata_file and idp_metadata_url', () => {
  expect(problems({})).toEqual(['idp_metadata_file: a SAML provider needs idp_metadata_file or idp_metadata_url']);
  expect(problems({ idp_metadata_file: '/a.xml', idp_metadata_url: 'https://idp.example/md' }))
    .toEqual(['idp_metadata_file: give idp_metadata_file or idp_metadata_url, not both']);
  expect(problems({ idp_metadata_url: 'https://idp.example/md' })).toEqual([]);
});

test('the metadata URL must be https', () => {
  expect(problems({ idp_metadata_url: 'http://idp.example/md' })).toEqual(['idp_metadata_url: must be an https:// URL']);
  expect(problems({ idp_metadata_url: 'not a url' })).toEqual(['idp_metadata_url: must be an https:// URL']);
});

test('attribute names: one name or a list; unknown keys refused', () => {
  const parsed = samlProviderSchema.parse({ ...base, idp_metadata_file: '/a.xml', attributes: { email: 'mail', groups: ['a', 'b'], subject: 'employeeNumber' } });
  expect(parsed.attributes).toEqual({ email: ['mail'], name: DEFAULT_ATTRIBUTES.name, groups: ['a', 'b'], subject: 'employeeNumber' });
  expect(problems({ idp_metadata_file: '/a.xml', attributes: { mail: 'x' } })).toEqual([expect.stringMatching(/^attributes: Unrecognized key/)]);
  expect(problems({ idp_metadata_file: '/a.xml', attributes: { email: [] } })).toHaveLength(1);
});

test('name_id_format: a short name or a NameID format URN', () => {
  const format = (name_id_format: string) => samlProviderSchema.parse({ ...base, idp_metadata_file: '/a.xml', name_id_format }).name_id_format;
  expect(format('persistent')).toBe('urn:oasis:names:tc:SAML:2.0:nameid-format:persistent');
  expect(format('emailAddress')).toBe('urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress');
  expect(format('urn:oasis:names:tc:SAML:2.0:nameid-format:kerberos')).toBe('urn:oasis:names:tc:SAML:2.0:nameid-format:kerberos');
  expect(problems({ idp_metadata_file: '/a.xml', name_id_format: 'email' })).toHaveLength(1);
});

test('clock skew between 0 and 600 whole seconds', () => {
  expect(problems({ idp_metadata_file: '/a.xml', clock_skew_seconds: 0 })).toEqual([]);
  expect(problems({ idp_metadata_file: '/a.xml', clock_skew_seconds: 601 })).toHaveLength(1);
  expect(problems({ idp_metadata_file: '/a.xml', clock_skew_seconds: 1.5 })).toHaveLength(1);
});

test('the shape merges into another object schema (as the core\'s union does) with the refinement', () => {
  const merged = z.object({ id: z.string(), kind: z.literal('saml'), display_name: z.string(), ...samlFields }).superRefine(refineSamlProvider);
  expect(merged.safeParse({ id: 'x', kind: 'saml', display_name: 'X' }).success).toBe(false);
  expect(merged.parse({ id: 'x', kind: 'saml', display_name: 'X', idp_metadata_url: 'https://idp.example/md' }).clock_skew_seconds).toBe(60);
});

describe('IdP metadata parsing', () => {
  const cert = 'MIIBszCCAVmgAwIBAgIUQ'; // not a certificate
  const md = (inner: string, entity = 'entityID="https://idp.example/saml"') =>
    `<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" ${entity}><md:IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">${inner}</md:IDPSSODescriptor></md:EntityDescriptor>`;
  const sso = '<md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="https://idp.example/sso"/>';

  test('says what is missing', () => {
    expect(() => parseIdpMetadata('<not xml')).toThrow('not well-formed XML');
    expect(() => parseIdpMetadata('<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="x"/>')).toThrow('no IDPSSODescriptor');
    expect(() => parseIdpMetadata(md(sso, ''))).toThrow('no entityID');
    expect(() => parseIdpMetadata(md(sso.replace('HTTP-Redirect', 'HTTP-POST')))).toThrow('no SingleSignOnService for the HTTP-Redirect binding');
    expect(() => parseIdpMetadata(md(sso))).toThrow('no signing certificate');
    const badCert = `<md:KeyDescriptor><ds:KeyInfo xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:X509Data><ds:X509Certificate>${cert}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>`;
    expect(() => parseIdpMetadata(md(badCert + sso))).toThrow('cannot be read');
  });
});

describe('in the federation file', () => {
  const keys = new KeyRing(randomBytes(32));
  const file = (saml: Record<string, unknown>) => ({ providers: [{ id: 'corp', kind: 'saml', display_name: 'Corp', ...saml }] });

  test('a SAML provider is accepted with its defaults', () => {
    const [provider] = parseFederationFile(file({ idp_metadata_url: 'https://idp.example/md' }), keys).providers;
    expect(provider).toMatchObject({ kind: 'saml', clock_skew_seconds: 60, want_authn_response_signed: false });
  });

  test('the cross-field rule applies there too, naming the provider and the field', () => {
    expect(() => parseFederationFile(file({}), keys)).toThrow('providers.corp.idp_metadata_file: a SAML provider needs idp_metadata_file or idp_metadata_url');
    expect(() => parseFederationFile(file({ idp_metadata_url: 'http://idp.example/md' }), keys)).toThrow('providers.corp.idp_metadata_url: must be an https:// URL');
    expect(() => parseFederationFile(file({ idp_metadata_file: '/a.xml', client_id: 'x' }), keys)).toThrow(/client_id/);
  });
});
