import { FederationError, type PasswordSource } from '../../../src/federation/source.ts';
import { ldapRefreshCheck, LdapRechecks, LdapRefreshRefused } from '../../../src/federation/ldap/index.ts';

const link = { provider: 'corp', subject: 'uuid-1', distinguishedName: 'uid=ada,dc=corp' };
const T0 = 1_800_000_000_000;

function directory(answer: () => Promise<boolean>) {
  const calls: unknown[] = [];
  const source: PasswordSource = {
    kind: 'ldap', id: 'corp',
    authenticate: async () => undefined,
    stillActive: async (identity) => { calls.push(identity); return answer(); },
    check: async () => 'ok',
  };
  return { source, calls };
}

const check = (source: PasswordSource, rechecks: LdapRechecks, now: number, settings = { recheck_seconds: 300, unreachable_grace_seconds: 0 }) =>
  ldapRefreshCheck({ source, settings, link, signedInAt: T0, rechecks, now });

test('the directory is asked only once per recheck_seconds, counted from the sign-in', async () => {
  const { source, calls } = directory(async () => true);
  const rechecks = new LdapRechecks();
  expect(await check(source, rechecks, T0 + 299_000)).toBe('not_due');
  expect(calls).toHaveLength(0);
  expect(await check(source, rechecks, T0 + 300_000)).toBe('active');
  expect(calls).toEqual([link]);
  expect(await check(source, rechecks, T0 + 599_000)).toBe('not_due');
  expect(await check(source, rechecks, T0 + 600_000)).toBe('active');
  expect(calls).toHaveLength(2);
});

test('a disabled or removed entry refuses the refresh with invalid_grant, every time', async () => {
  const { source } = directory(async () => false);
  const rechecks = new LdapRechecks();
  const refused = await check(source, rechecks, T0 + 400_000).catch((e: unknown) => e);
  expect(refused).toBeInstanceOf(LdapRefreshRefused);
  expect(refused).toMatchObject({ error: 'invalid_grant', reason: 'inactive', error_description: expect.stringMatching(/disabled or no longer exists/) });
  await expect(check(source, rechecks, T0 + 401_000)).rejects.toMatchObject({ reason: 'inactive' });
});

test('unreachable: fail closed by default; within unreachable_grace_seconds of the last good check it passes', async () => {
  const { source } = directory(async () => { throw new FederationError('unreachable', 'down', true); });
  const rechecks = new LdapRechecks();
  await expect(check(source, rechecks, T0 + 400_000)).rejects.toMatchObject({ error: 'invalid_grant', reason: 'unreachable' });
  const grace = { recheck_seconds: 300, unreachable_grace_seconds: 900 };
  expect(await check(source, rechecks, T0 + 900_000, grace)).toBe('grace');
  await expect(check(source, rechecks, T0 + 900_001, grace)).rejects.toMatchObject({ reason: 'unreachable' });
});

test('concurrent refreshes of one person share one lookup', async () => {
  let release!: (v: boolean) => void;
  const { source, calls } = directory(() => new Promise<boolean>((r) => { release = r; }));
  const rechecks = new LdapRechecks();
  const both = Promise.all([check(source, rechecks, T0 + 400_000), check(source, rechecks, T0 + 400_000)]);
  release(true);
  expect(await both).toEqual(['active', 'active']);
  expect(calls).toHaveLength(1);
});

test('the memory is bounded: the oldest check is forgotten first', async () => {
  const rechecks = new LdapRechecks(2);
  rechecks.foundActive('a', 1);
  rechecks.foundActive('b', 2);
  rechecks.foundActive('a', 3);
  rechecks.foundActive('c', 4);
  expect([rechecks.lastActive('a'), rechecks.lastActive('b'), rechecks.lastActive('c')]).toEqual([3, undefined, 4]);
});
