/**
 * The SCIM 2.0 service driven as Entra ID and Okta drive it: a provisioning client's token, the
 * discovery endpoints, the look-up by userName before a create, PATCH (Entra's "Replace" and
 * "False"), PUT (Okta), deactivate, reactivate, delete; RFC 7644 shapes and errors; and a person
 * deprovisioned while holding a refresh token, refused at once on the other instance.
 */
import { createRemoteJWKSet, decodeJwt, jwtVerify } from 'jose';
import * as oidc from 'openid-client';
import { clientCredentialsToken, jsonCall } from '../support/json-api.ts';
import { Browser, signIn } from '../support/browserless.ts';
import { ADMIN, discover, insecure, pkceAuthorization, startStack, type ClientOut, type Stack } from '../support/stack.ts';
import { queryDatabase } from '../support/services.ts';
import { freePort, vigilCli, type VigilProcess } from '../support/vigil-process.ts';

const PASSWORD = 'correct horse battery staple 9';
const USER = 'urn:ietf:params:scim:schemas:core:2.0:User';
const ENTERPRISE = 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User';
const LIST = 'urn:ietf:params:scim:api:messages:2.0:ListResponse';
const GROUP = 'urn:ietf:params:scim:schemas:core:2.0:Group';
const ERROR = 'urn:ietf:params:scim:api:messages:2.0:Error';
const PATCH_OP = 'urn:ietf:params:scim:api:messages:2.0:PatchOp';
const SESSION_REVOKED = 'https://schemas.openid.net/secevent/caep/event-type/session-revoked';
const ACCOUNT_DISABLED = 'https://schemas.openid.net/secevent/risc/event-type/account-disabled';
/** Requests the provisioning client may make per minute here (the last test spends what is left). */
const REQUEST_BUDGET = 150;

let stack: Stack;
let a: VigilProcess;
let b: VigilProcess;
let scim: string;
let token: string;
let provisioner: ClientOut;
let web: ClientOut;
let redirectUri: string;

interface Answer { status: number; headers: Headers; body: any }

async function call(method: string, path: string, body?: unknown, headers: Record<string, string> = {}, bearer: string | undefined = token): Promise<Answer> {
  const res = await fetch(`${scim}${path}`, {
    method,
    headers: {
      ...(bearer ? { authorization: `Bearer ${bearer}` } : {}),
      ...(body !== undefined ? { 'content-type': 'application/scim+json' } : {}),
      ...headers,
    },
    ...(body !== undefined ? { body: typeof body === 'string' ? body : JSON.stringify(body) } : {}),
  });
  const text = await res.text();
  return { status: res.status, headers: res.headers, body: text ? JSON.parse(text) : undefined };
}

const filtered = (filter: string, extra = '') => call('GET', `/Users?filter=${encodeURIComponent(filter)}${extra}`);
const patch = (id: string, Operations: unknown[], headers: Record<string, string> = {}) => call('PATCH', `/Users/${id}`, { schemas: [PATCH_OP], Operations }, headers);

function expectError(answer: Answer, status: number, scimType?: string) {
  expect({ status: answer.status, type: answer.headers.get('content-type') }).toEqual({ status, type: 'application/scim+json; charset=utf-8' });
  expect(answer.body).toEqual({ schemas: [ERROR], status: String(status), ...(scimType ? { scimType } : {}), detail: expect.any(String) });
}

beforeAll(async () => {
  stack = await startStack({
    VIGIL_SCIM_REQUESTS_PER_MINUTE: String(REQUEST_BUDGET), VIGIL_SCIM_GROUP_ROLES: JSON.stringify({ 'Vigil Auditors': ['auditor'], 'Ops Team': ['operator', 'auditor'] }),
  }, { instances: 2 });
  [a, b] = stack.instances;
  scim = `${a.issuer}/scim/v2`;
  redirectUri = `http://127.0.0.1:${await freePort()}/cb`;
  [provisioner, web] = await Promise.all([
    vigilCli<ClientOut>(stack.env, ['client', 'create', '--name', 'Entra ID', '--grant-type', 'client_credentials', '--allow-resource', scim, '--scope', 'scim']),
    vigilCli<ClientOut>(stack.env, ['client', 'create', '--name', 'Wiki', '--redirect-uri', redirectUri, '--grant-type', 'authorization_code',
      '--grant-type', 'refresh_token', '--grant-type', 'client_credentials', '--allow-resource', `${a.issuer}/ssf`, '--scope', 'ssf:stream']),
    vigilCli(stack.env, ['user', 'create', '--email', 'grace@vigil.test', '--password', PASSWORD]),
  ]);
  token = (await oidc.clientCredentialsGrant(await discover(a.issuer, provisioner), { resource: scim, scope: 'scim' })).access_token;
}, 60_000);

afterAll(async () => {
  await stack?.stop();
});

test('only a provisioning client with the scim scope gets in; bodies are size-limited', async () => {
  const none = await call('GET', '/Users', undefined, {}, '');
  expectError(none, 401);
  expect(none.headers.get('www-authenticate')).toBe(`Bearer realm="${scim}"`);
  const bad = await call('GET', '/Users', undefined, {}, 'not-a-token');
  expectError(bad, 401);
  expect(bad.headers.get('www-authenticate')).toMatch(/error="invalid_token"/);
  // A token of the same client without the scope: 403.
  const scopeless = (await oidc.clientCredentialsGrant(await discover(a.issuer, provisioner), { resource: scim })).access_token;
  const refused = await call('GET', '/Users', undefined, {}, scopeless);
  expectError(refused, 403);
  expect(refused.headers.get('www-authenticate')).toMatch(/error="insufficient_scope", .*scope="scim"/);
  // A client allowed the SCIM resource must name the scope: provisioning is never granted by default.
  await expect(vigilCli(stack.env, ['client', 'create', '--name', 'Sloppy', '--grant-type', 'client_credentials', '--allow-resource', scim])).rejects.toThrow(/scim must be named/);
  const huge = await call('POST', '/Users', { schemas: [USER], userName: 'big@example.com', displayName: 'x'.repeat(70_000) });
  expectError(huge, 413);
  expectError(await call('POST', '/Users', '{"userName": '), 400, 'invalidSyntax');
  expect((await filtered('userName eq "big@example.com"')).body.totalResults).toBe(0);
});

test('discovery: ServiceProviderConfig, ResourceTypes and Schemas in RFC 7643 shapes', async () => {
  const config = await call('GET', '/ServiceProviderConfig');
  expect(config.status).toBe(200);
  expect(config.headers.get('content-type')).toBe('application/scim+json; charset=utf-8');
  expect(config.body).toMatchObject({
    schemas: ['urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig'],
    patch: { supported: true }, bulk: { supported: false }, filter: { supported: true, maxResults: 200 }, etag: { supported: true }, sort: { supported: true },
    authenticationSchemes: [expect.objectContaining({ type: 'oauthbearertoken' })],
  });
  const types = await call('GET', '/ResourceTypes');
  expect(types.body).toMatchObject({ schemas: [LIST], totalResults: 2, Resources: [
    { id: 'User', endpoint: '/Users', schema: USER, schemaExtensions: [{ schema: ENTERPRISE, required: false }] },
    { id: 'Group', endpoint: '/Groups', schema: GROUP },
  ] });
  const schemas = await call('GET', '/Schemas');
  expect(schemas.body.Resources.map((s: { id: string }) => s.id)).toEqual([USER, GROUP, ENTERPRISE]);
  expect((await call('GET', `/Schemas/${ENTERPRISE}`)).body.attributes.map((x: { name: string }) => x.name)).toContain('employeeNumber');
  expectError(await call('GET', '/Schemas/urn:nothing'), 404);
  expectError(await call('GET', '/Bulk'), 404);
});

test('Entra ID: look up, create, patch with "Replace" and "False", reactivate, delete; SCIM errors', async () => {
  const lookUp = await filtered('userName eq "Ada.Lovelace@Example.com"');
  expect(lookUp.body).toEqual({ schemas: [LIST], totalResults: 0, startIndex: 1, itemsPerPage: 0, Resources: [] });

  const created = await call('POST', '/Users', {
    schemas: [USER, ENTERPRISE], externalId: 'e-0001', userName: 'ada.lovelace@example.com', active: true,
    displayName: 'Ada Lovelace', name: { givenName: 'Ada', familyName: 'Lovelace' },
    emails: [{ primary: true, type: 'work', value: 'ada.lovelace@example.com' }],
    [ENTERPRISE]: { employeeNumber: '1815', department: 'Analytical Engines', organization: 'Babbage & Co' },
  });
  expect(created.status).toBe(201);
  const id = created.body.id as string;
  expect(created.body).toEqual({
    schemas: [USER, ENTERPRISE], id: expect.any(String), externalId: 'e-0001', userName: 'ada.lovelace@example.com',
    name: { givenName: 'Ada', familyName: 'Lovelace' }, displayName: 'Ada Lovelace',
    emails: [{ primary: true, type: 'work', value: 'ada.lovelace@example.com' }], active: true,
    [ENTERPRISE]: { employeeNumber: '1815', department: 'Analytical Engines', organization: 'Babbage & Co' },
    meta: { resourceType: 'User', created: expect.any(String), lastModified: expect.any(String), location: `${scim}/Users/${id}`, version: expect.stringMatching(/^W\/".+"$/) },
  });
  expect(created.headers.get('etag')).toBe(created.body.meta.version);
  expect(created.headers.get('location')).toBe(`${scim}/Users/${id}`);

  // userName is unique regardless of case.
  expectError(await call('POST', '/Users', { schemas: [USER], userName: 'ADA.LOVELACE@example.com' }), 409, 'uniqueness');
  expectError(await call('POST', '/Users', { schemas: [USER], userName: 'not an address' }), 400, 'invalidValue');
  expectError(await call('POST', '/Users', { schemas: [USER], userName: 'x@example.com', favouriteColour: 'red' }), 400, 'invalidValue');

  // Filters: attribute names and operators in any case, value paths, the extension by its URN, logic and grouping.
  for (const filter of [
    'USERNAME Eq "Ada.Lovelace@Example.com"', 'externalId eq "e-0001"', 'emails[type eq "work" and value co "@example.com"]',
    `${ENTERPRISE}:department sw "analytical"`, 'not (active eq false) and (name.givenName eq "Ada" or userName ew "@nowhere")', 'displayName pr',
  ]) {
    const found = await filtered(filter);
    expect({ filter, ids: found.body.Resources.map((r: { id: string }) => r.id) }).toEqual({ filter, ids: expect.arrayContaining([id]) });
  }
  expect((await filtered('userName ne "ada.lovelace@example.com"')).body.Resources.map((r: { id: string }) => r.id)).not.toContain(id);
  expectError(await filtered('userName eq'), 400, 'invalidFilter');
  expectError(await filtered('userName eq "a" and ('), 400, 'invalidFilter');

  // Paging and projection.
  const page = await call('GET', '/Users?startIndex=2&count=1&attributes=userName');
  expect(page.body).toMatchObject({ schemas: [LIST], totalResults: 3, startIndex: 2, itemsPerPage: 1 });
  expect(Object.keys(page.body.Resources[0]).sort()).toEqual(['id', 'meta', 'schemas', 'userName']);
  const userNames = async (query: string) => (await call('GET', `/Users?${query}`)).body.Resources.map((r: { userName: string }) => r.userName);
  expect(await userNames('sortBy=userName')).toEqual(['ada.lovelace@example.com', 'grace@vigil.test', 'root@vigil.test']);
  expect(await userNames('sortBy=USERNAME&sortOrder=descending')).toEqual(['root@vigil.test', 'grace@vigil.test', 'ada.lovelace@example.com']);
  // Missing values last: only Ada has a department.
  expect((await userNames(`sortBy=${ENTERPRISE}:department&sortOrder=descending`))[0]).toBe('ada.lovelace@example.com');
  expect(await userNames('sortBy=emails&count=1')).toEqual(['ada.lovelace@example.com']);
  expectError(await call('GET', '/Users?sortBy=userName&sortOrder=sideways'), 400, 'invalidValue');
  const slim = await call('GET', `/Users/${id}?excludedAttributes=emails,${ENTERPRISE}`);
  expect(slim.body.emails).toBeUndefined();
  expect(slim.body[ENTERPRISE]).toBeUndefined();
  expect(slim.body.userName).toBe('ada.lovelace@example.com');

  // Entra ID's PATCH: capitalised ops, a value path, a manager as an id, attributes without a path.
  const patched = await patch(id, [
    { op: 'Replace', path: 'displayName', value: 'Ada King' },
    { op: 'Replace', path: 'name.familyName', value: 'King' },
    { op: 'Replace', path: 'emails[type eq "work"].value', value: 'ada.king@example.com' },
    { op: 'Add', path: `${ENTERPRISE}:manager`, value: 'babbage-id' },
    { op: 'Remove', path: `${ENTERPRISE}:organization` },
    { op: 'Replace', value: { 'name.givenName': 'Augusta Ada' } },
  ], { 'if-match': created.body.meta.version });
  expect(patched.status).toBe(200);
  expect(patched.body).toMatchObject({
    displayName: 'Ada King', name: { givenName: 'Augusta Ada', familyName: 'King' }, emails: [{ type: 'work', value: 'ada.king@example.com', primary: true }],
    [ENTERPRISE]: { employeeNumber: '1815', department: 'Analytical Engines', manager: { value: 'babbage-id' } },
  });
  expect(patched.body[ENTERPRISE].organization).toBeUndefined();
  expect(patched.body.meta.version).not.toBe(created.body.meta.version);
  expect((await call('GET', `/Users/${id}`)).body).toEqual(patched.body);

  // A stale version, an unknown path, a filter matching nothing: refused, nothing stored.
  expectError(await patch(id, [{ op: 'Replace', path: 'displayName', value: 'Lost update' }], { 'if-match': created.body.meta.version }), 412);
  expectError(await call('PUT', `/Users/${id}`, { schemas: [USER], userName: 'ada.lovelace@example.com' }, { 'if-match': created.body.meta.version }), 412);
  expectError(await patch(id, [{ op: 'replace', path: 'shoeSize', value: '42' }]), 400, 'invalidPath');
  expectError(await patch(id, [{ op: 'replace', path: 'emails[type eq "home"].value', value: 'x@example.com' }]), 400, 'noTarget');
  expectError(await patch(id, [{ op: 'replace', path: 'emails[type eq ].value', value: 'x@example.com' }]), 400, 'invalidFilter');
  expectError(await patch(id, [{ op: 'frobnicate', path: 'displayName', value: 'x' }]), 400, 'invalidSyntax');
  expectError(await patch(id, [{ op: 'replace', path: 'active', value: 'maybe' }]), 400, 'invalidValue');
  expect((await call('GET', `/Users/${id}`)).body).toEqual(patched.body);

  // Entra ID deactivates with the string "False", and reactivates with "True".
  const off = await patch(id, [{ op: 'Replace', path: 'active', value: 'False' }]);
  expect(off.body.active).toBe(false);
  expect((await filtered('active eq false')).body.Resources.map((r: { id: string }) => r.id)).toEqual([id]);
  const on = await patch(id, [{ op: 'Replace', value: { active: 'True' } }]);
  expect(on.body.active).toBe(true);
  const [{ disabled }] = await queryDatabase<{ disabled: boolean }>(stack.db.url, 'SELECT disabled FROM accounts WHERE id = $1', [id]);
  expect(disabled).toBe(false);

  // DELETE: gone for SCIM, the account disabled; audited with the provisioning client as the actor.
  expect((await call('DELETE', `/Users/${id}`)).status).toBe(204);
  expectError(await call('GET', `/Users/${id}`), 404);
  expectError(await patch(id, [{ op: 'replace', path: 'active', value: true }]), 404);
  expect((await filtered('userName eq "ada.lovelace@example.com"')).body.totalResults).toBe(0);
  const audit = await queryDatabase<{ action: string; actor: string }>(stack.db.url, "SELECT action, actor FROM audit_log WHERE subject = $1 AND action NOT LIKE 'revocation.%' ORDER BY seq", [id]);
  expect(audit.map((e) => e.action)).toEqual([
    // No sign-in method yet: an enrolment link at the create and again at the reactivation (docs/scim.md).
    'scim.user.create', 'account.enrolment.mailed', 'scim.user.update', 'account.disable', 'scim.user.update', 'account.enable', 'account.enrolment.mailed',
    'scim.user.update', 'account.disable', 'scim.user.delete',
  ]);
  expect(new Set(audit.map((e) => e.actor))).toEqual(new Set([provisioner.client_id]));
});

test('Okta: PUT-heavy updates with userName as the email; a changed userName changes the sign-in address', async () => {
  const created = await call('POST', '/Users', { schemas: [USER], userName: 'lin@example.com', name: { givenName: 'Lin', familyName: 'Ho' }, active: true });
  expect(created.status).toBe(201);
  expect(created.body.displayName).toBe('Lin Ho');
  const id = created.body.id as string;
  const put = (body: Record<string, unknown>) => call('PUT', `/Users/${id}`, { schemas: [USER], id, ...body });
  const moved = await put({ userName: 'lin.ho@example.com', name: { givenName: 'Lin', familyName: 'Ho' }, displayName: 'Lin Ho', active: true });
  expect(moved.body).toMatchObject({ userName: 'lin.ho@example.com', active: true });
  expect((await queryDatabase<{ email: string }>(stack.db.url, 'SELECT email FROM accounts WHERE id = $1', [id]))[0].email).toBe('lin.ho@example.com');
  expectError(await put({ userName: 'GRACE@vigil.test', active: true }), 409, 'uniqueness');
  expect((await put({ userName: 'lin.ho@example.com', active: false })).body.active).toBe(false);
  // A PUT without active keeps it: a deprovisioned person is not brought back by omission.
  expect((await put({ userName: 'lin.ho@example.com', displayName: 'Lin Ho' })).body.active).toBe(false);
  expect((await put({ userName: 'lin.ho@example.com', active: true })).body.active).toBe(true);
});

test('groups: look up, create with members, add and remove members (Entra ID, Okta), rename, delete; membership becomes roles', async () => {
  const user = async (userName: string) => (await call('POST', '/Users', { schemas: [USER], userName })).body.id as string;
  const [kim, lee] = [await user('kim@example.com'), await user('lee@example.com')];
  await queryDatabase(stack.db.url, "UPDATE accounts SET roles = '{wiki_editor}' WHERE id = $1", [kim]);
  const roles = async (id: string) => (await queryDatabase<{ roles: string[] }>(stack.db.url, 'SELECT roles FROM accounts WHERE id = $1', [id]))[0].roles;

  expect((await call('GET', `/Groups?filter=${encodeURIComponent('displayName eq "vigil auditors"')}&excludedAttributes=members`)).body.totalResults).toBe(0);
  const created = await call('POST', '/Groups', { schemas: [GROUP], displayName: 'Vigil Auditors', externalId: 'g-1', members: [{ value: kim }] });
  expect(created.status).toBe(201);
  const id = created.body.id as string;
  expect(created.body).toEqual({
    schemas: [GROUP], id: expect.any(String), externalId: 'g-1', displayName: 'Vigil Auditors',
    members: [{ value: kim, display: 'kim@example.com', $ref: `${scim}/Users/${kim}`, type: 'User' }],
    meta: { resourceType: 'Group', created: expect.any(String), lastModified: expect.any(String), location: `${scim}/Groups/${id}`, version: expect.any(String) },
  });
  // The mapped role is added; roles the mapping does not name stay.
  expect(await roles(kim)).toEqual(['auditor', 'wiki_editor']);
  expectError(await call('POST', '/Groups', { schemas: [GROUP], displayName: 'VIGIL AUDITORS' }), 409, 'uniqueness');
  expectError(await call('POST', '/Groups', { schemas: [GROUP], displayName: 'Ghosts', members: [{ value: 'no-such-user' }] }), 400, 'invalidValue');
  const looked = await call('GET', `/Groups?filter=${encodeURIComponent('displayName eq "vigil auditors"')}&excludedAttributes=members`);
  expect(looked.body.Resources).toEqual([{ schemas: [GROUP], id, externalId: 'g-1', displayName: 'Vigil Auditors', meta: created.body.meta }]);

  // Entra ID adds with a list, removes by a value filter; Okta removes with a value list.
  const added = await call('PATCH', `/Groups/${id}`, { schemas: [PATCH_OP], Operations: [{ op: 'Add', path: 'members', value: [{ value: lee }] }] }, { 'if-match': created.body.meta.version });
  expect(added.body.members.map((m: { value: string }) => m.value)).toEqual([kim, lee]);
  expect(await roles(lee)).toEqual(['auditor']);
  expect((await call('GET', `/Groups?filter=${encodeURIComponent(`members[value eq "${lee}"]`)}`)).body.totalResults).toBe(1);
  expectError(await call('PATCH', `/Groups/${id}`, { schemas: [PATCH_OP], Operations: [{ op: 'Add', path: 'members', value: [{ value: lee }] }] }, { 'if-match': created.body.meta.version }), 412);
  expectError(await call('PATCH', `/Groups/${id}`, { schemas: [PATCH_OP], Operations: [{ op: 'Add', path: 'owners', value: [] }] }), 400, 'invalidPath');
  const removed = await call('PATCH', `/Groups/${id}`, { schemas: [PATCH_OP], Operations: [{ op: 'Remove', path: `members[value eq "${kim}"]` }] });
  expect(removed.body.members.map((m: { value: string }) => m.value)).toEqual([lee]);
  expect(await roles(kim)).toEqual(['wiki_editor']);

  // Renamed (Okta's PUT): the members get the new name's roles.
  const renamed = await call('PUT', `/Groups/${id}`, { schemas: [GROUP], id, displayName: 'Ops Team', members: [{ value: lee }] });
  expect(renamed.body.displayName).toBe('Ops Team');
  expect(await roles(lee)).toEqual(['auditor', 'operator']);
  const emptied = await call('PATCH', `/Groups/${id}`, { schemas: [PATCH_OP], Operations: [{ op: 'remove', path: 'members', value: [{ value: lee }] }] });
  expect(emptied.body.members).toEqual([]);
  expect(await roles(lee)).toEqual([]);
  await call('PATCH', `/Groups/${id}`, { schemas: [PATCH_OP], Operations: [{ op: 'replace', value: { id, members: [{ value: lee }, { value: kim }] } }] });
  expect(await roles(kim)).toEqual(['auditor', 'operator', 'wiki_editor']);

  // Deleting the group takes its roles away; audited with the provisioning client as the actor.
  expect((await call('DELETE', `/Groups/${id}`)).status).toBe(204);
  expectError(await call('GET', `/Groups/${id}`), 404);
  expect([await roles(kim), await roles(lee)]).toEqual([['wiki_editor'], []]);
  const audit = await queryDatabase<{ action: string; actor: string }>(stack.db.url,
    "SELECT action, actor FROM audit_log WHERE subject = $1 OR (action = 'account.roles' AND subject = ANY($2)) ORDER BY seq", [id, [kim, lee]]);
  expect(audit.filter((e) => e.action.startsWith('scim.group')).map((e) => e.action)).toEqual([
    'scim.group.create', 'scim.group.update', 'scim.group.update', 'scim.group.update', 'scim.group.update', 'scim.group.update', 'scim.group.delete',
  ]);
  expect(audit.filter((e) => e.action === 'account.roles')).toHaveLength(9);
  expect(new Set(audit.map((e) => e.actor))).toEqual(new Set([provisioner.client_id]));
});

test('an administrator is not moved, disabled or deleted by a provisioning client', async () => {
  const [root] = (await filtered(`userName eq "${ADMIN.email}"`)).body.Resources;
  expectError(await patch(root.id, [{ op: 'Replace', path: 'active', value: 'False' }]), 403);
  expectError(await patch(root.id, [{ op: 'Replace', path: 'userName', value: 'attacker@example.com' }]), 403);
  expectError(await call('DELETE', `/Users/${root.id}`), 403);
  expect((await call('GET', `/Users/${root.id}`)).body).toEqual(root);
  // Their name and attributes may still be provisioned.
  expect((await patch(root.id, [{ op: 'Add', path: 'displayName', value: 'Root Admin' }])).body).toMatchObject({ userName: ADMIN.email, displayName: 'Root Admin', active: true });
});

test('deprovisioning while the person holds a refresh token: the next refresh on the other instance is refused at once', async () => {
  const config = await discover(a.issuer, web);
  const request = await pkceAuthorization(config, { redirect_uri: redirectUri, scope: 'openid offline_access', prompt: 'consent' });
  const tokens = await request.redeem(await signIn(new Browser(), request.url, 'grace@vigil.test', PASSWORD, redirectUri));
  const onB = await discover(a.issuer, web, { ...insecure, [oidc.customFetch]: (url, options) => fetch(url.replace(a.issuer, b.url), options as RequestInit) });
  const refreshed = await oidc.refreshTokenGrant(onB, tokens.refresh_token!);

  // The wiki follows Grace on a poll stream (RFC 8936) for session-revoked and account-disabled.
  const ssfToken = await clientCredentialsToken(a.issuer, web, `${a.issuer}/ssf`, 'ssf:stream');
  const stream = await jsonCall(a.issuer, 'POST', '/ssf/stream', ssfToken, { delivery: { method: 'urn:ietf:rfc:8936' }, events_requested: [SESSION_REVOKED, ACCOUNT_DISABLED] });
  expect(stream.body.events_delivered).toEqual([SESSION_REVOKED, ACCOUNT_DISABLED]);
  expect((await jsonCall(a.issuer, 'POST', '/ssf/subjects/add', ssfToken, { stream_id: stream.body.stream_id, subject: { format: 'email', email: 'grace@vigil.test' } })).status).toBe(200);

  // An account made before provisioning is found by userName, as Entra ID looks before creating.
  const found = await filtered('userName eq "grace@vigil.test"');
  expect(found.body.totalResults).toBe(1);
  const id = found.body.Resources[0].id as string;
  const started = Date.now();
  expect((await patch(id, [{ op: 'Replace', path: 'active', value: 'False' }])).body.active).toBe(false);
  await expect(oidc.refreshTokenGrant(onB, refreshed.refresh_token!)).rejects.toMatchObject({ error: 'invalid_grant' });
  // The receiver polls instance B: both SETs are there, signed by Vigil, about Grace.
  const polled = await jsonCall(b.url, 'POST', `/ssf/poll/${stream.body.stream_id}`, ssfToken, { returnImmediately: true, maxEvents: 10 });
  expect(Date.now() - started).toBeLessThan(1000);
  const sets = Object.values(polled.body.sets as Record<string, string>);
  const jwks = createRemoteJWKSet(new URL(`${a.issuer}/jwks`));
  for (const set of sets) await jwtVerify(set, jwks, { issuer: a.issuer, audience: web.client_id, typ: 'secevent+jwt' });
  expect(sets.map((set) => decodeJwt(set)).map((c) => ({ sub: c.sub_id, events: Object.keys(c.events as object) })).sort((x, y) => x.events[0].localeCompare(y.events[0]))).toEqual([
    { sub: { format: 'iss_sub', iss: a.issuer, sub: id }, events: [SESSION_REVOKED] },
    { sub: { format: 'iss_sub', iss: a.issuer, sub: id }, events: [ACCOUNT_DISABLED] },
  ]);
  const [revocation] = await queryDatabase<{ actor: string; details: { reason: string } }>(
    stack.db.url, "SELECT actor, details FROM audit_log WHERE action = 'revocation.account' AND subject = $1", [id]);
  expect(revocation).toMatchObject({ actor: provisioner.client_id, details: expect.objectContaining({ reason: 'deprovisioned through SCIM' }) });
  // Reactivation lets the person sign in again (nothing they held comes back).
  expect((await patch(id, [{ op: 'Replace', path: 'active', value: true }])).body.active).toBe(true);
  await expect(oidc.refreshTokenGrant(onB, refreshed.refresh_token!)).rejects.toMatchObject({ error: 'invalid_grant' });
});

test('each provisioning client has a request budget per minute: past it, 429 with Retry-After', async () => {
  let answer: Answer | undefined;
  for (let i = 0; i <= REQUEST_BUDGET; i++) {
    answer = await call('GET', '/ServiceProviderConfig');
    if (answer.status === 429) break;
  }
  expectError(answer!, 429);
  expect(Number(answer!.headers.get('retry-after'))).toBeGreaterThan(0);
});
