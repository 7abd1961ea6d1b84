/**
 * An OpenLDAP `slapd` of the test's own: a temp dir, a generated slapd.conf (mdb, the memberof
 * overlay), a throwaway CA and server certificate (openssl) for LDAPS and StartTLS, free ports on
 * 127.0.0.1, and a small test tree loaded through ldapts as the root DN. Never the machine's slapd.
 * Tests call `destroy()` in afterAll; an exit hook kills it too if a test run dies first.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync, readFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Attribute, Change, Client } from 'ldapts';
import { freePort } from './vigil-process.ts';

export const SLAPD_PATH = process.env.SLAPD_PATH ?? '/usr/sbin/slapd';
const MODULES = process.env.SLAPD_MODULES ?? '/usr/lib/ldap';
const SCHEMAS = process.env.SLAPD_SCHEMAS ?? '/etc/ldap/schema';

export const BASE_DN = 'dc=example,dc=org';
export const PEOPLE = `ou=people,${BASE_DN}`;
export const GROUPS = `ou=groups,${BASE_DN}`;
export const SERVICE_DN = `cn=vigil,${BASE_DN}`;
export const SERVICE_PASSWORD = 'service-secret';
const ROOT_DN = `cn=admin,${BASE_DN}`;
const ROOT_PASSWORD = 'root-secret';

export interface Person {
  uid: string;
  mail: string;
  cn: string;
  password: string;
  /** employeeType, `disabled` for a disabled one. */
  employeeType?: string;
  /** The Active Directory flavour's userAccountControl (512 enabled, 514 disabled). */
  userAccountControl?: number;
  /** The Active Directory flavour's objectGUID. */
  objectGUID?: Buffer;
}

export const PEOPLE_TREE: Person[] = [
  { uid: 'ada', mail: 'ada@corp.example', cn: 'Ada Lovelace', password: 'analytical-engine' },
  { uid: 'grace', mail: 'grace@corp.example', cn: 'Grace Hopper', password: 'cobol-compiler' },
  { uid: 'mallory', mail: 'mallory@corp.example', cn: 'Mallory Gone', password: 'was-here', employeeType: 'disabled' },
  {
    uid: 'alan', mail: 'alan@corp.example', cn: 'Alan Turing', password: 'enigma-machine', userAccountControl: 512,
    objectGUID: Buffer.from('0123456789abcdef0123456789abcdef', 'hex'),
  },
  { uid: 'bob', mail: 'bob@corp.example', cn: 'Bob Blocked', password: 'bobs-password', userAccountControl: 514, objectGUID: Buffer.from('fedcba9876543210fedcba9876543210', 'hex') },
];
export const GROUP_TREE: Record<string, string[]> = { engineers: ['ada', 'grace', 'alan'], admins: ['ada'] };

export const personDn = (uid: string) => `uid=${uid},${PEOPLE}`;
export const groupDn = (cn: string) => `cn=${cn},${GROUPS}`;

/** A stand-in for AD's attributes (same names and OIDs) so the active_directory rule runs against a real server. */
const AD_SCHEMA = `
attributetype ( 1.2.840.113556.1.4.8 NAME 'userAccountControl' EQUALITY integerMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.27 SINGLE-VALUE )
attributetype ( 1.2.840.113556.1.4.2 NAME 'objectGUID' EQUALITY octetStringMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.40 SINGLE-VALUE )
objectclass ( 1.3.6.1.4.1.32473.1.1 NAME 'vigilTestAdAccount' AUXILIARY MAY ( userAccountControl $ objectGUID ) )
`;

export interface Slapd {
  /** ldaps://127.0.0.1:<port> */
  ldapsUrl: string;
  /** ldap://127.0.0.1:<port> (for StartTLS) */
  ldapUrl: string;
  /** The PEM file of the CA that signed the server's certificate. */
  caFile: string;
  dir: string;
  running(): boolean;
  /** SIGTERM, waited for: the directory shut down. */
  stop(): Promise<void>;
  /** SIGKILL: the directory is down, as after a crash. */
  kill(): Promise<void>;
  /** Starts it again on the same ports and data. */
  start(): Promise<void>;
  /** As the root DN, on the running server. */
  modify(dn: string, attribute: string, values: string[]): Promise<void>;
  setPassword(uid: string, password: string): Promise<void>;
  disable(uid: string): Promise<void>;
  remove(dn: string): Promise<void>;
  /** Kills it (whatever state it is in) and removes its files. */
  destroy(): Promise<void>;
}

function certificates(dir: string): { ca: string; cert: string; key: string } {
  const run = (args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  run(['req', '-x509', ...ec, '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '2', '-subj', '/CN=Vigil test directory CA']);
  run(['req', ...ec, '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=localhost']);
  writeFileSync(join(dir, 'san.ext'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n');
  run(['x509', '-req', '-in', 'server.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'server.pem', '-days', '2', '-extfile', 'san.ext']);
  return { ca: join(dir, 'ca.pem'), cert: join(dir, 'server.pem'), key: join(dir, 'server.key') };
}

function slapdConf(dir: string, tls: { ca: string; cert: string; key: string }): string {
  return `
include ${SCHEMAS}/core.schema
include ${SCHEMAS}/cosine.schema
include ${SCHEMAS}/inetorgperson.schema
include ${join(dir, 'ad.schema')}
modulepath ${MODULES}
moduleload back_mdb
moduleload memberof
pidfile ${join(dir, 'slapd.pid')}
argsfile ${join(dir, 'slapd.args')}
# As Active Directory does: a DN with an empty password binds (unauthenticated, RFC 4513 5.1.2).
allow bind_anon_dn
TLSCACertificateFile ${tls.ca}
TLSCertificateFile ${tls.cert}
TLSCertificateKeyFile ${tls.key}

database mdb
maxsize 16777216
suffix "${BASE_DN}"
rootdn "${ROOT_DN}"
rootpw ${ROOT_PASSWORD}
directory ${join(dir, 'db')}
index entryUUID eq
access to attrs=userPassword by self write by anonymous auth by * none
access to * by dn.exact="${SERVICE_DN}" read by self read by * none
overlay memberof
memberof-refint true
`;
}

const answers = (port: number) => new Promise<boolean>((resolve) => {
  const socket = net.connect(port, '127.0.0.1');
  socket.once('connect', () => { socket.destroy(); resolve(true); });
  socket.once('error', () => resolve(false));
});

export async function startSlapd(tree: { people?: Person[]; groups?: Record<string, string[]> } = {}): Promise<Slapd> {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-slapd-'));
  mkdirSync(join(dir, 'db'));
  writeFileSync(join(dir, 'ad.schema'), AD_SCHEMA);
  const tls = certificates(dir);
  writeFileSync(join(dir, 'slapd.conf'), slapdConf(dir, tls));
  const ldapPort = await freePort();
  let ldapsPort = await freePort();
  while (ldapsPort === ldapPort) ldapsPort = await freePort();
  const ldapUrl = `ldap://127.0.0.1:${ldapPort}`;
  const ldapsUrl = `ldaps://127.0.0.1:${ldapsPort}`;
  let child: ChildProcess | undefined;
  let exited: Promise<void> = Promise.resolve();
  let output = '';
  const killNow = () => { if (child?.exitCode === null && child.signalCode === null) child.kill('SIGKILL'); };
  process.once('exit', killNow);

  const start = async () => {
    output = '';
    // -d keeps it in the foreground (a child we can kill); 0 logs nothing but start-up errors.
    child = spawn(SLAPD_PATH, ['-d', '0', '-f', join(dir, 'slapd.conf'), '-h', `${ldapUrl}/ ${ldapsUrl}/`], { stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout!.on('data', (d) => { output += d; });
    child.stderr!.on('data', (d) => { output += d; });
    const current = child;
    exited = new Promise<void>((resolve) => current.once('exit', () => resolve()));
    const deadline = Date.now() + 10_000;
    while (!(await answers(ldapPort)) || !(await answers(ldapsPort))) {
      if (current.exitCode !== null || Date.now() > deadline) {
        killNow();
        throw new Error(`slapd did not start (exit ${current.exitCode}):\n${output}\n${readFileSync(join(dir, 'slapd.conf'), 'utf8')}`);
      }
      await new Promise((r) => setTimeout(r, 25));
    }
  };

  const asRoot = async <T>(work: (client: Client) => Promise<T>): Promise<T> => {
    const client = new Client({ url: ldapUrl, timeout: 5_000, connectTimeout: 5_000 });
    try {
      await client.bind(ROOT_DN, ROOT_PASSWORD);
      return await work(client);
    } finally {
      await client.unbind().catch(() => {});
    }
  };

  const kill = async () => {
    killNow();
    await exited;
  };

  await start();
  try {
    await asRoot(async (client) => {
      await client.add(BASE_DN, { objectClass: ['dcObject', 'organization'], dc: 'example', o: 'Example' });
      await client.add(PEOPLE, { objectClass: 'organizationalUnit', ou: 'people' });
      await client.add(GROUPS, { objectClass: 'organizationalUnit', ou: 'groups' });
      await client.add(SERVICE_DN, { objectClass: ['person', 'simpleSecurityObject'], cn: 'vigil', sn: 'vigil', userPassword: SERVICE_PASSWORD });
      for (const p of tree.people ?? PEOPLE_TREE) {
        const ad = p.userAccountControl !== undefined || p.objectGUID !== undefined;
        await client.add(personDn(p.uid), [
          new Attribute({ type: 'objectClass', values: ['inetOrgPerson', ...(ad ? ['vigilTestAdAccount'] : [])] }),
          new Attribute({ type: 'uid', values: [p.uid] }),
          new Attribute({ type: 'cn', values: [p.cn] }),
          new Attribute({ type: 'sn', values: [p.cn.split(' ').at(-1)!] }),
          new Attribute({ type: 'mail', values: [p.mail] }),
          new Attribute({ type: 'userPassword', values: [p.password] }),
          ...(p.employeeType ? [new Attribute({ type: 'employeeType', values: [p.employeeType] })] : []),
          ...(p.userAccountControl !== undefined ? [new Attribute({ type: 'userAccountControl', values: [String(p.userAccountControl)] })] : []),
          ...(p.objectGUID ? [new Attribute({ type: 'objectGUID', values: [p.objectGUID] })] : []),
        ]);
      }
      for (const [cn, members] of Object.entries(tree.groups ?? GROUP_TREE)) {
        await client.add(groupDn(cn), { objectClass: 'groupOfNames', cn, member: members.map(personDn) });
      }
    });
  } catch (err) {
    await kill();
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }

  const modify = (dn: string, attribute: string, values: string[]) => asRoot((client) => client.modify(dn, new Change({
    operation: 'replace', modification: new Attribute({ type: attribute, values }),
  })));

  return {
    ldapUrl,
    ldapsUrl,
    caFile: tls.ca,
    dir,
    running: () => child?.exitCode === null && child.signalCode === null,
    async stop() {
      if (child?.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
    },
    kill,
    start,
    modify,
    setPassword: (uid, password) => modify(personDn(uid), 'userPassword', [password]),
    disable: (uid) => modify(personDn(uid), 'employeeType', ['disabled']),
    remove: (dn) => asRoot((client) => client.del(dn)),
    async destroy() {
      await kill();
      process.removeListener('exit', killNow);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
