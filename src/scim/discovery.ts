/** RFC 7643 §5–7 discovery: what the service supports, its resource types and schemas. */
import { GROUP_SCHEMA } from './groups.ts';
import { ENTERPRISE_SCHEMA, USER_SCHEMA } from './users.ts';

const attr = (name: string, extra: Record<string, unknown> = {}) => ({
  name, type: 'string', multiValued: false, required: false, caseExact: false, mutability: 'readWrite', returned: 'default', uniqueness: 'none', ...extra,
});

export function serviceProviderConfig(base: string) {
  return {
    schemas: ['urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig'],
    documentationUri: 'https://github.com/vigil/vigil/blob/main/docs/scim.md',
    patch: { supported: true },
    bulk: { supported: false, maxOperations: 0, maxPayloadSize: 0 },
    filter: { supported: true, maxResults: 200 },
    changePassword: { supported: false },
    sort: { supported: true },
    etag: { supported: true },
    authenticationSchemes: [{ type: 'oauthbearertoken', name: 'OAuth Bearer Token', description: 'A client-credentials access token for the resource server ' + base + ' with the scope "scim"', primary: true }],
    meta: { resourceType: 'ServiceProviderConfig', location: `${base}/ServiceProviderConfig` },
  };
}

export function resourceTypes(base: string) {
  return [{
    schemas: ['urn:ietf:params:scim:schemas:core:2.0:ResourceType'], id: 'User', name: 'User', endpoint: '/Users', schema: USER_SCHEMA,
    schemaExtensions: [{ schema: ENTERPRISE_SCHEMA, required: false }],
    meta: { resourceType: 'ResourceType', location: `${base}/ResourceTypes/User` },
  }, {
    schemas: ['urn:ietf:params:scim:schemas:core:2.0:ResourceType'], id: 'Group', name: 'Group', endpoint: '/Groups', schema: GROUP_SCHEMA,
    meta: { resourceType: 'ResourceType', location: `${base}/ResourceTypes/Group` },
  }];
}

export function schemas(base: string) {
  const schema = (id: string, name: string, attributes: unknown[]) => ({
    schemas: ['urn:ietf:params:scim:schemas:core:2.0:Schema'], id, name, attributes, meta: { resourceType: 'Schema', location: `${base}/Schemas/${id}` },
  });
  return [
    schema(USER_SCHEMA, 'User', [
      attr('userName', { required: true, uniqueness: 'server', description: 'The email address the person signs in with' }),
      attr('externalId', { caseExact: true }),
      { ...attr('name', { type: 'complex' }), subAttributes: ['formatted', 'familyName', 'givenName', 'middleName', 'honorificPrefix', 'honorificSuffix'].map((n) => attr(n)) },
      attr('displayName'),
      { ...attr('emails', { type: 'complex', multiValued: true }), subAttributes: [attr('value'), attr('type'), attr('primary', { type: 'boolean' }), attr('display')] },
      attr('active', { type: 'boolean' }),
    ]),
    schema(GROUP_SCHEMA, 'Group', [
      attr('displayName', { required: true, uniqueness: 'server' }),
      attr('externalId', { caseExact: true }),
      { ...attr('members', { type: 'complex', multiValued: true }), subAttributes: [attr('value', { mutability: 'immutable' }), attr('display', { mutability: 'readOnly' }), attr('$ref', { type: 'reference', mutability: 'readOnly' }), attr('type', { mutability: 'readOnly' })] },
    ]),
    schema(ENTERPRISE_SCHEMA, 'EnterpriseUser', [
      ...['employeeNumber', 'costCenter', 'organization', 'division', 'department'].map((n) => attr(n)),
      { ...attr('manager', { type: 'complex' }), subAttributes: [attr('value'), attr('$ref', { type: 'reference' }), attr('displayName', { mutability: 'readOnly' })] },
    ]),
  ];
}
