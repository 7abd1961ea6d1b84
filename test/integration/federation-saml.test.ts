/**
 * The SAML source against a real SAML IdP on loopback (self-signed certificate, real XML
 * signatures): what it accepts, what it refuses and with which reason, and that a refused response
 * leaves nothing behind (no remembered assertion id) while an accepted one cannot be used twice.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Koa from 'koa';
import { migrate, PostgresSql } from '../../src/store/index.ts';
import { FederationError, type RedirectSource } from '../../src/federation/source.ts';
import { createSamlSource, IdpMetadataLoader, samlMetadataRoutes, samlProviderSchema, spMetadata, type SamlProviderConfig } from '../../src/federation/saml/index.ts';
import { freshDatabase } from '../support/services.ts';
import { readAuthnRequest, SamlTestIdp, selfSignedCertificate, type KeyPair, type ResponseKnobs } from '../support/saml-idp.ts';

const ISSUER = 'https://vigil.example.test';
const acsUrl = (id: string) => `${ISSUER}/federation/${id}/acs`;
const EMAIL_URI = 'http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress';
const GROUPS_URI = 'http://schemas.microsoft.com/ws/2008/06/identity/claims/groups';

let db: Awaited<ReturnType<typeof freshDatabase>>;
let sql: PostgresSql;
let idp: SamlTestIdp;
let otherKey: KeyPair;
let dir: string;
let providerCount = 0;
/** URLs the sources fetched, through the injected fetch (which maps the https metadata URL to the IdP on loopback). */
const fetched: string[] = [];

const injectedFetch = async (url: string, init?: RequestInit) => {
  fetched.push(url);
  return fetch(url.replace('https://idp.example.test', idp.baseUrl), init);
};

function provider(fields: Record<string, unknown> = {}): SamlProviderConfig {
  providerCount += 1;
  return samlProviderSchema.parse({
    id: `idp${providerCount}`,
    kind: 'saml',
    trust_email_verified: true,
    ...(fields.idp_metadata_url ? {} : { idp_metadata_file: idp.writeMetadata(dir) }),
    ...fields,
  });
}

const source = (config: SamlProviderConfig) => createSamlSource(config, { sql, issuer: ISSUER, fetch: injectedFetch });

/** begin → the IdP answers the AuthnRequest → complete, as the core's routes do. */
async function signIn(saml: RedirectSource, knobs: ResponseKnobs = {}) {
  const callbackUrl = acsUrl(saml.id);
  const { redirectTo, keep } = await saml.begin({ callbackUrl, relay: 'relay-state-1' });
  const form = idp.respond(redirectTo, knobs);
  return saml.complete({ callbackUrl, params: { SAMLResponse: form.SAMLResponse, RelayState: form.RelayState }, keep });
}

async function rememberedAssertions(providerId: string): Promise<number> {
  const { rows } = await sql.query<{ n: number }>('SELECT count(*)::int AS n FROM saml_assertion_ids WHERE provider = $1', [providerId]);
  return rows[0].n;
}

async function expectRefused(promise: Promise<unknown>, code: string): Promise<FederationError> {
  const err = await promise.then(() => undefined, (e: unknown) => e);
  expect(err).toBeInstanceOf(FederationError);
  expect((err as FederationError).code).toBe(code);
  expect((err as FederationError).message).not.toMatch(/Expected|Received|<|Error:/);
  return err as FederationError;
}

beforeAll(async () => {
  db = await freshDatabase();
  sql = new PostgresSql(db.url, 4);
  await migrate(sql);
  idp = await SamlTestIdp.start({
    user: {
      nameId: 'alice-0001',
      attributes: { [EMAIL_URI]: 'alice@example.com', displayName: 'Alice Example', [GROUPS_URI]: ['engineering', 'admins'] },
      authnContextClassRef: 'urn:oasis:names:tc:SAML:2.0:ac:classes:MultiFactor',
    },
  });
  otherKey = selfSignedCertificate('not-the-idp');
  dir = mkdtempSync(join(tmpdir(), 'saml-test-'));
}, 30_000);

afterAll(async () => {
  await idp?.close();
  await sql?.close();
  await db?.drop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('a good response', () => {
  test('gives the identity with the mapped attributes, the acr and the session index; the assertion id is remembered', async () => {
    const config = provider();
    const identity = await signIn(source(config), { sessionIndex: '_session-42' });
    expect(identity).toEqual({
      provider: config.id,
      subject: 'alice-0001',
      email: 'alice@example.com',
      emailVerified: true,
      name: 'Alice Example',
      groups: ['engineering', 'admins'],
      acr: 'urn:oasis:names:tc:SAML:2.0:ac:classes:MultiFactor',
      upstreamSession: '_session-42',
    });
    expect(await rememberedAssertions(config.id)).toBe(1);
  });

  test('the AuthnRequest goes to the IdP\'s redirect SSO URL, names Vigil\'s entity id and ACS URL and carries the relay', async () => {
    const config = provider({ name_id_format: 'persistent' });
    const { redirectTo, keep } = await source(config).begin({ callbackUrl: acsUrl(config.id), relay: 'opaque relay' });
    expect(redirectTo.startsWith(`${idp.ssoUrl}?`)).toBe(true);
    const request = readAuthnRequest(redirectTo);
    expect(request).toMatchObject({
      issuer: `${ISSUER}/federation/${config.id}/metadata`,
      acsUrl: acsUrl(config.id),
      relayState: 'opaque relay',
      nameIdFormat: 'urn:oasis:names:tc:SAML:2.0:nameid-format:persistent',
      id: keep.requestId,
    });
    // Not pinned to PasswordProtectedTransport: an IdP may answer with a stronger sign-in.
    expect(request.xml).not.toContain('RequestedAuthnContext');
  });

  test('attribute names per provider; without a trusted provider the address is not taken as verified', async () => {
    const config = provider({ trust_email_verified: false, attributes: { email: 'work_mail', name: ['cn', 'displayName'], groups: 'roles' } });
    const identity = await signIn(source(config), { user: { attributes: { work_mail: 'a.example@corp.example', cn: 'A. Example', roles: 'ops' } } });
    expect(identity).toMatchObject({ email: 'a.example@corp.example', emailVerified: false, name: 'A. Example', groups: ['ops'] });
  });

  test('a value that is no e-mail address is not passed on as one (nor as verified)', async () => {
    const identity = await signIn(source(provider()), { user: { attributes: { email: 'not an address', groups: ['g1', 'x'.repeat(2000)] } } });
    expect(identity.email).toBeUndefined();
    expect(identity.emailVerified).toBe(false);
    expect(identity.groups).toEqual(['g1']);
  });

  test('a transient NameID is refused, unless an attribute gives the stable id', async () => {
    const transient = { nameIdFormat: 'urn:oasis:names:tc:SAML:2.0:nameid-format:transient', nameId: '_t1' };
    const refusedConfig = provider();
    await expectRefused(signIn(source(refusedConfig), { user: transient }), 'transient_name_id');
    expect(await rememberedAssertions(refusedConfig.id)).toBe(0);

    const config = provider({ attributes: { subject: 'employeeId' } });
    const identity = await signIn(source(config), { user: { ...transient, attributes: { employeeId: 'E-77', email: 'alice@example.com' } } });
    expect(identity.subject).toBe('E-77');
  });

  test('a signed Response is accepted when configured so, and then an assertion signed alone is not enough', async () => {
    const config = provider({ want_authn_response_signed: true });
    const saml = source(config);
    expect((await signIn(saml, { signOnlyResponse: true })).subject).toBe('alice-0001');
    expect((await signIn(saml, { signResponse: true })).subject).toBe('alice-0001');
    await expectRefused(signIn(saml), 'unsigned');
    expect(await rememberedAssertions(config.id)).toBe(2);
  });
});

describe('bad responses are refused with their reason, and nothing is remembered', () => {
  const cases: [string, string, () => ResponseKnobs][] = [
    ['unsigned', 'unsigned', () => ({ unsigned: true })],
    ['only the Response signed, the Assertion required', 'unsigned', () => ({ signOnlyResponse: true })],
    ['tampered after signing', 'invalid_signature', () => ({ tamper: true })],
    ['signed by a key not in the metadata', 'invalid_signature', () => ({ signWith: otherKey })],
    ['meant for another SP', 'wrong_audience', () => ({ audience: 'https://other-sp.example/metadata' })],
    ['expired beyond the clock skew', 'expired', () => ({ validForSeconds: -61 })],
    ['not yet valid beyond the clock skew', 'not_yet_valid', () => ({ notBeforeSeconds: 120 })],
    ['answering another request', 'wrong_in_response_to', () => ({ inResponseTo: '_another-request' })],
    ['unsolicited (IdP-initiated)', 'wrong_in_response_to', () => ({ inResponseTo: null })],
    ['an assertion not naming the request, in a Response that does', 'wrong_in_response_to', () => ({ omitSubjectInResponseTo: true })],
    ['confirmed for another recipient', 'wrong_recipient', () => ({ recipient: 'https://evil.example/acs' })],
    ['sent to another destination', 'wrong_recipient', () => ({ destination: 'https://evil.example/acs' })],
    ['issued by another entity (with the IdP\'s key)', 'wrong_issuer', () => ({ issuer: 'https://impostor.example/saml' })],
    ['a failed status from the IdP (the person was not signed in there)', 'denied', () => ({ failedStatus: 'urn:oasis:names:tc:SAML:2.0:status:Responder', unsigned: true })],
    ['with an encrypted assertion (Vigil has no decryption key)', 'encrypted_assertion', () => ({ encrypted: true, unsigned: true })],
  ];

  test.each(cases)('%s → %s', async (_what, code, knobs) => {
    const config = provider();
    await expectRefused(signIn(source(config), knobs()), code);
    expect(await rememberedAssertions(config.id)).toBe(0);
  });

  test('a response to another browser\'s sign-in, a changed RelayState, and garbage are refused', async () => {
    const config = provider();
    const saml = source(config);
    const callbackUrl = acsUrl(config.id);
    const mine = await saml.begin({ callbackUrl, relay: 'mine' });
    const theirs = await saml.begin({ callbackUrl, relay: 'theirs' });
    const theirForm = idp.respond(theirs.redirectTo);
    await expectRefused(saml.complete({ callbackUrl, params: { SAMLResponse: theirForm.SAMLResponse, RelayState: 'mine' }, keep: mine.keep }), 'wrong_in_response_to');
    await expectRefused(saml.complete({ callbackUrl, params: { SAMLResponse: theirForm.SAMLResponse, RelayState: 'mine' }, keep: theirs.keep }), 'wrong_relay_state');
    await expectRefused(saml.complete({ callbackUrl, params: { SAMLResponse: Buffer.from('<not xml').toString('base64'), RelayState: 'mine' }, keep: mine.keep }), 'malformed');
    await expectRefused(saml.complete({ callbackUrl, params: { SAMLResponse: '%%%', RelayState: 'mine' }, keep: mine.keep }), 'malformed');
    await expectRefused(saml.complete({ callbackUrl, params: { RelayState: 'mine' }, keep: mine.keep }), 'malformed');
    expect(await rememberedAssertions(config.id)).toBe(0);
  });
});

describe('replay', () => {
  test('the same response posted twice: the second is refused', async () => {
    const config = provider();
    const saml = source(config);
    const callbackUrl = acsUrl(config.id);
    const { redirectTo, keep } = await saml.begin({ callbackUrl, relay: 'r' });
    const form = idp.respond(redirectTo);
    const params = { SAMLResponse: form.SAMLResponse, RelayState: form.RelayState };
    expect((await saml.complete({ callbackUrl, params, keep })).subject).toBe('alice-0001');
    await expectRefused(saml.complete({ callbackUrl, params, keep }), 'replayed');
    expect(await rememberedAssertions(config.id)).toBe(1);
  });

  test('two instances completing the same response at once: exactly one accepts it', async () => {
    const config = provider();
    const callbackUrl = acsUrl(config.id);
    const first = source(config);
    const otherInstanceSql = new PostgresSql(db.url, 2);
    const second = createSamlSource(config, { sql: otherInstanceSql, issuer: ISSUER, fetch: injectedFetch });
    const { redirectTo, keep } = await first.begin({ callbackUrl, relay: 'r' });
    const form = idp.respond(redirectTo);
    const params = { SAMLResponse: form.SAMLResponse, RelayState: form.RelayState };
    const outcomes = await Promise.allSettled([first.complete({ callbackUrl, params, keep }), second.complete({ callbackUrl, params, keep })]);
    expect(outcomes.filter((o) => o.status === 'fulfilled')).toHaveLength(1);
    const refused = outcomes.find((o) => o.status === 'rejected') as PromiseRejectedResult;
    expect(refused.reason).toBeInstanceOf(FederationError);
    expect(refused.reason.code).toBe('replayed');
    await otherInstanceSql.close();
  });

  test('an assertion id remembered past its expiry no longer blocks (it is purged or taken over)', async () => {
    const config = provider();
    await sql.query("INSERT INTO saml_assertion_ids (provider, assertion_id, expires_at) VALUES ($1, '_old-assertion', now() - interval '1 minute')", [config.id]);
    const identity = await signIn(source(config), { assertionId: '_old-assertion' });
    expect(identity.subject).toBe('alice-0001');
    const { rows } = await sql.query<{ future: boolean }>("SELECT expires_at > now() AS future FROM saml_assertion_ids WHERE provider = $1 AND assertion_id = '_old-assertion'", [config.id]);
    expect(rows).toEqual([{ future: true }]);
  });
});

describe('IdP metadata', () => {
  test('from a URL (fetched through the injected fetch), and check() reports what it found', async () => {
    const config = provider({ idp_metadata_url: 'https://idp.example.test/metadata' });
    const saml = source(config);
    expect((await signIn(saml)).subject).toBe('alice-0001');
    expect(fetched).toContain('https://idp.example.test/metadata');
    const report = await saml.check();
    expect(report).toContain('IdP entity id https://idp.example.test/saml');
    expect(report).toContain(`SSO URL (HTTP-Redirect) ${idp.ssoUrl}`);
    expect(report).toMatch(/1 signing certificate\(s\), valid until \d{4}-\d{2}-\d{2}/);
    expect(report).toContain(`SP entity id ${ISSUER}/federation/${config.id}/metadata`);
  });

  test('an unreachable metadata URL or a missing file: the provider is unreachable; bad metadata says what is wrong', async () => {
    const unreachable = source(provider({ idp_metadata_url: 'https://idp.example.test/missing' }));
    const err = await expectRefused(unreachable.check(), 'metadata_unavailable');
    expect(err.unreachable).toBe(true);
    expect(err.message).toContain('answered 404');
    const missing = source(provider({ idp_metadata_file: join(dir, 'nope.xml') }));
    expect((await expectRefused(missing.begin({ callbackUrl: acsUrl('x'), relay: 'r' }), 'metadata_unavailable')).unreachable).toBe(true);

    const { writeFileSync } = await import('node:fs');
    const bad = join(dir, 'bad.xml');
    writeFileSync(bad, idp.metadataXml().replace(/<md:KeyDescriptor use="signing">[\s\S]*?<\/md:KeyDescriptor>/g, ''));
    const noCert = await expectRefused(source(provider({ idp_metadata_file: bad })).check(), 'invalid_metadata');
    expect(noCert.message).toContain('no signing certificate');
  });

  test('several signing certificates (a key rollover): a response signed with either is accepted', async () => {
    const { writeFileSync } = await import('node:fs');
    const file = join(dir, 'rollover.xml');
    writeFileSync(file, idp.metadataXml([otherKey.cert]));
    const saml = source(provider({ idp_metadata_file: file }));
    expect((await signIn(saml, { signWith: otherKey })).subject).toBe('alice-0001');
    expect((await signIn(saml)).subject).toBe('alice-0001');
    expect(await saml.check()).toContain('2 signing certificate(s)');
  });
});

test('after a refused signature the metadata is read again once a minute old (the IdP may have rolled its key)', async () => {
  const { writeFileSync } = await import('node:fs');
  const file = join(dir, 'rolling.xml');
  writeFileSync(file, idp.metadataXml());
  let now = Date.now();
  const loader = new IdpMetadataLoader({ idp_metadata_file: file }, injectedFetch, 1000, () => now);
  expect((await loader.load()).signingCerts).toHaveLength(1);
  writeFileSync(file, idp.metadataXml([otherKey.cert]));
  now += 30_000;
  expect((await loader.load()).signingCerts).toHaveLength(1); // kept for an hour
  loader.reloadSoon();
  expect((await loader.load()).signingCerts).toHaveLength(1); // not yet: read 30 s ago
  now += 31_000;
  expect((await loader.load()).signingCerts).toHaveLength(2);
});

describe('SP metadata', () => {
  test('served at /federation/:id/metadata with the entity id and the ACS URL; 404 for another id', async () => {
    const config = provider({ sp_entity_id: 'urn:vigil:sp' });
    const app = new Koa();
    app.use(samlMetadataRoutes((id) => (id === config.id ? config : undefined), ISSUER).routes());
    const server = app.listen(0, '127.0.0.1');
    await new Promise((resolve) => server.once('listening', resolve));
    const base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
    try {
      const response = await fetch(`${base}/federation/${config.id}/metadata`);
      expect(response.status).toBe(200);
      expect(response.headers.get('content-type')).toContain('application/samlmetadata+xml');
      const xml = await response.text();
      expect(xml).toBe(await spMetadata(config, { issuer: ISSUER, acsUrl: acsUrl(config.id) }));
      expect(xml).toContain('entityID="urn:vigil:sp"');
      expect(xml).toMatch(new RegExp(`AssertionConsumerService[^>]*Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST"[^>]*Location="${acsUrl(config.id)}"`));
      expect(xml).toContain('WantAssertionsSigned="true"');
      expect((await fetch(`${base}/federation/unknown/metadata`)).status).toBe(404);
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });
});
