/**
 * The LDAP password source against a real OpenLDAP slapd of the test's own, over LDAPS and over
 * StartTLS: the bind decides, the entry's attributes and groups come back, a disabled account is
 * refused, a dead directory is reported unreachable quickly, and refresh re-checks see changes.
 */
import net from 'node:net';
import { createLdapSource, ldapSettingsSchema, ldapRefreshCheck, LdapRechecks } from '../../src/federation/ldap/index.ts';
import { FederationError, type PasswordSource } from '../../src/federation/source.ts';
import { startSlapd, BASE_DN, GROUPS, SERVICE_DN, SERVICE_PASSWORD, personDn, groupDn, type Slapd } from '../support/slapd.ts';

let slapd: Slapd;
beforeAll(async () => { slapd = await startSlapd(); });
afterAll(async () => { await slapd?.destroy(); });

const settings = (fields: Record<string, unknown>) => ldapSettingsSchema.parse({
  ca_file: slapd.caFile, bind_dn: SERVICE_DN, bind_password: 'sealed in the file', base_dn: BASE_DN,
  disabled_filter: '(employeeType=disabled)', timeout_seconds: 2, ...fields,
});
const source = (fields: Record<string, unknown>, bindPassword = SERVICE_PASSWORD): PasswordSource =>
  createLdapSource({ ...settings(fields), id: 'corp', trust_email_verified: true }, { bindPassword });
const failure = (work: Promise<unknown>) => work.then(() => { throw new Error('expected a FederationError'); }, (err: unknown) => err as FederationError);

const transports = [
  ['LDAPS', () => ({ url: slapd.ldapsUrl })],
  ['StartTLS', () => ({ url: slapd.ldapUrl, start_tls: true })],
] as const;

describe.each(transports)('over %s', (transport, fields) => {
  test('the right password: the identity with the entry\'s attributes, groups and a stable subject', async () => {
    const corp = source(fields());
    const sockets = () => process.getActiveResourcesInfo().filter((r) => r === 'TCPSocketWrap' || r === 'TLSWrap').length;
    const before = sockets();
    const ada = await corp.authenticate('ada@corp.example', 'analytical-engine');
    expect(ada).toEqual({
      provider: 'corp', subject: expect.stringMatching(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/),
      email: 'ada@corp.example', emailVerified: true, name: 'Ada Lovelace', amr: ['pwd'],
      groups: expect.arrayContaining([groupDn('engineers'), groupDn('admins')]),
      distinguishedName: personDn('ada'),
    });
    expect(ada!.groups).toHaveLength(2);
    // The same person again: the same subject (entryUUID).
    expect((await corp.authenticate('ada@corp.example', 'analytical-engine'))!.subject).toBe(ada!.subject);
    expect(await corp.check()).toBe(`${fields().url}: ${transport} (TLSv1.3), bound as ${SERVICE_DN}, base DN ${BASE_DN} found`);
    // Every conversation closed its connection.
    await new Promise((r) => setTimeout(r, 50));
    expect(sockets()).toBe(before);
  });

  test('a wrong password, an unknown person and an empty password: undefined alike', async () => {
    const corp = source(fields());
    expect(await corp.authenticate('ada@corp.example', 'difference-engine')).toBeUndefined();
    expect(await corp.authenticate('nobody@corp.example', 'analytical-engine')).toBeUndefined();
    // An empty password would be an unauthenticated bind, which the directory accepts.
    expect(await corp.authenticate('ada@corp.example', '')).toBeUndefined();
  });

  test('a disabled account with the right password: account_disabled', async () => {
    const err = await failure(source(fields()).authenticate('mallory@corp.example', 'was-here'));
    expect(err).toBeInstanceOf(FederationError);
    expect(err).toMatchObject({ code: 'account_disabled', unreachable: false });
    // With a wrong password nothing tells the guesser the account is disabled.
    expect(await source(fields()).authenticate('mallory@corp.example', 'guess')).toBeUndefined();
  });
});

test('a login that tries to widen the filter matches nobody', async () => {
  const corp = source({ url: slapd.ldapsUrl });
  for (const login of ['*', '*)(uid=*', '*)(|(mail=*', 'ada@corp.example)(mail=*']) {
    expect(await corp.authenticate(login, 'analytical-engine')).toBeUndefined();
  }
  // A filter that finds two people is as good as none.
  expect(await source({ url: slapd.ldapsUrl, user_filter: '(|(mail={login})(objectClass=inetOrgPerson))' }).authenticate('ada@corp.example', 'analytical-engine')).toBeUndefined();
});

test('a certificate not signed by the configured CA: unreachable, nothing sent', async () => {
  const err = await failure(createLdapSource({ ...settings({ url: slapd.ldapsUrl }), ca_file: undefined, id: 'corp' }, { bindPassword: SERVICE_PASSWORD }).check());
  expect(err).toMatchObject({ code: 'unreachable', unreachable: true });
  expect(err.message).toMatch(/SELF_SIGNED|UNABLE_TO|certificate/i);
});

test('a wrong service password: the directory cannot be used (unreachable for the person, named for the admin)', async () => {
  const err = await failure(source({ url: slapd.ldapsUrl }, 'not-the-service-password').authenticate('ada@corp.example', 'analytical-engine'));
  expect(err).toMatchObject({ code: 'service_bind_failed', unreachable: true });
  // No service password: never an unauthenticated bind that would search anonymously.
  expect(await failure(source({ url: slapd.ldapsUrl }, '').authenticate('ada@corp.example', 'analytical-engine'))).toMatchObject({ code: 'service_bind_failed' });
});

test('groups by search (no memberOf) and named by cn', async () => {
  const corp = source({ url: slapd.ldapsUrl, group_search: { base_dn: GROUPS }, group_name: 'cn' });
  expect((await corp.authenticate('grace@corp.example', 'cobol-compiler'))!.groups).toEqual(['engineers']);
});

test('Active Directory flavour: objectGUID subject, userAccountControl ACCOUNTDISABLE', async () => {
  const ad = source({ url: slapd.ldapsUrl, active_directory: true, disabled_filter: undefined, attributes: { id: 'objectGUID', name: 'cn' } });
  const alan = await ad.authenticate('alan@corp.example', 'enigma-machine');
  // AD's own rendering: the first three groups of the 16 bytes little-endian.
  expect(alan).toMatchObject({ subject: '67452301-ab89-efcd-0123-456789abcdef', name: 'Alan Turing' });
  expect(await ad.stillActive({ subject: alan!.subject })).toBe(true);
  expect(await failure(ad.authenticate('bob@corp.example', 'bobs-password'))).toMatchObject({ code: 'account_disabled' });
  expect(await ad.stillActive({ subject: 'fedcba98-7654-3210-fedc-ba9876543210' })).toBe(false);
});

test('stillActive follows the directory: true, false once disabled, false once removed; by DN or by id', async () => {
  const people = await startSlapd();
  try {
    const corp = createLdapSource({
      ...ldapSettingsSchema.parse({ url: people.ldapsUrl, ca_file: people.caFile, bind_dn: SERVICE_DN, bind_password: 'x', base_dn: BASE_DN, disabled_filter: '(employeeType=disabled)' }),
      id: 'corp',
    }, { bindPassword: SERVICE_PASSWORD });
    const ada = (await corp.authenticate('ada@corp.example', 'analytical-engine'))!;
    const grace = (await corp.authenticate('grace@corp.example', 'cobol-compiler'))!;
    expect(await corp.stillActive(ada)).toBe(true);
    expect(await corp.stillActive({ subject: ada.subject })).toBe(true);
    // A DN that now names someone else is not the person.
    expect(await corp.stillActive({ subject: ada.subject, distinguishedName: personDn('grace') })).toBe(true);
    expect(await corp.stillActive({ subject: 'not-an-entry-uuid', distinguishedName: personDn('grace') })).toBe(false);

    await people.disable('ada');
    expect(await corp.stillActive(ada)).toBe(false);
    await expect(corp.authenticate('ada@corp.example', 'analytical-engine')).rejects.toMatchObject({ code: 'account_disabled' });

    await people.setPassword('grace', 'new-password');
    expect(await corp.authenticate('grace@corp.example', 'cobol-compiler')).toBeUndefined();
    expect(await corp.authenticate('grace@corp.example', 'new-password')).toMatchObject({ subject: grace.subject });
    await people.remove(personDn('grace'));
    expect(await corp.stillActive(grace)).toBe(false);

    // The refresh check on top: the next refresh after the re-check period is refused.
    const rechecks = new LdapRechecks();
    const refresh = (now: number) => ldapRefreshCheck({ source: corp, settings: { recheck_seconds: 60, unreachable_grace_seconds: 0 }, link: ada, signedInAt: 0, rechecks, now });
    await expect(refresh(61_000)).rejects.toMatchObject({ error: 'invalid_grant', reason: 'inactive' });

    // The directory goes down: sign-in and re-check both say unreachable, quickly.
    await people.stop();
    const started = Date.now();
    expect(await failure(corp.authenticate('ada@corp.example', 'analytical-engine'))).toMatchObject({ code: 'unreachable', unreachable: true });
    expect(await failure(corp.stillActive(ada))).toMatchObject({ unreachable: true });
    expect(Date.now() - started).toBeLessThan(5_000);
    await expect(refresh(200_000)).rejects.toMatchObject({ reason: 'unreachable' });
  } finally {
    await people.destroy();
  }
});

test('a directory that accepts the connection and never answers: unreachable within twice the timeout', async () => {
  const held: net.Socket[] = [];
  let closed = 0;
  const silent = net.createServer((socket) => {
    held.push(socket);
    socket.on('close', () => { closed += 1; }).on('error', () => {}).resume();
  });
  await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
  const { port } = silent.address() as net.AddressInfo;
  try {
    for (const fields of [{ url: `ldaps://127.0.0.1:${port}` }, { url: `ldap://127.0.0.1:${port}`, start_tls: true }]) {
      const started = Date.now();
      const err = await failure(source({ ...fields, timeout_seconds: 0.5 }).authenticate('ada@corp.example', 'analytical-engine'));
      expect(err).toMatchObject({ code: 'unreachable', unreachable: true });
      expect(Date.now() - started).toBeLessThan(1_000 + 3_000);
    }
    // Nothing left open towards it.
    await new Promise((r) => setTimeout(r, 200));
    expect(held).toHaveLength(2);
    expect(closed).toBe(2);
  } finally {
    for (const s of held) s.destroy();
    await new Promise((resolve) => silent.close(resolve));
  }
});

test('a directory that accepts StartTLS and then stalls the handshake: cut off at twice the timeout', async () => {
  // LDAPMessage { messageID (the request's, one byte), extendedResp { success, "", "" } }: the answer to StartTLS, nothing after it.
  const startTlsOk = (id: number) => Buffer.from([0x30, 0x0c, 0x02, 0x01, id, 0x78, 0x07, 0x0a, 0x01, 0x00, 0x04, 0x00, 0x04, 0x00]);
  const held: net.Socket[] = [];
  const stalling = net.createServer((socket) => {
    held.push(socket);
    socket.once('data', (request) => socket.write(startTlsOk(request[4]!))).on('error', () => {});
  });
  await new Promise<void>((resolve) => stalling.listen(0, '127.0.0.1', resolve));
  const { port } = stalling.address() as net.AddressInfo;
  try {
    const started = Date.now();
    const err = await failure(source({ url: `ldap://127.0.0.1:${port}`, start_tls: true, timeout_seconds: 0.5 }).check());
    expect(err).toMatchObject({ code: 'unreachable', unreachable: true });
    expect(err.message).toMatch(/no answer within 1 s/);
    expect(Date.now() - started).toBeLessThan(1_000 + 3_000);
  } finally {
    for (const s of held) s.destroy();
    await new Promise((resolve) => stalling.close(resolve));
  }
});
