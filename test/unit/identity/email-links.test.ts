/**
 * The emailed links' store on the embedded database: single use under concurrency, a newer link
 * replaces older ones, and a link proves only the address it was sent to, of an enabled account.
 */
import { migrate, PgliteSql } from '../../../src/store/index.ts';
import { AccountStore, EmailLinks } from '../../../src/identity/index.ts';

let sql: PgliteSql;
let links: EmailLinks;
let accounts: AccountStore;
let id: string;
const HOUR = 3600;

beforeAll(async () => {
  sql = await PgliteSql.open(undefined);
  await migrate(sql);
  links = new EmailLinks(sql);
  accounts = new AccountStore(sql);
  id = (await accounts.create({ email: 'Ann@example.com', password: 'a long enough password' })).id;
}, 30_000);

afterAll(() => sql?.close());

test('a link opens without being used; of two uses at once exactly one succeeds; then it reads as used', async () => {
  const token = await links.issue(id, 'Ann@example.com', 'password_reset', HOUR);
  expect(await links.peek(token, 'password_reset')).toMatchObject({ ok: true, link: { accountId: id, email: 'Ann@example.com' } });
  expect(await links.peek(token, 'password_reset')).toMatchObject({ ok: true });
  // The wrong kind opens nothing.
  expect(await links.peek(token, 'email_verification')).toEqual({ ok: false, problem: 'unknown' });
  const used = await Promise.all([links.resetPassword(token, 'hash-1'), links.resetPassword(token, 'hash-2')]);
  expect(used.filter(Boolean)).toEqual([id]);
  expect(await links.peek(token, 'password_reset')).toEqual({ ok: false, problem: 'used' });
  expect((await accounts.findById(id))!.emailVerified).toBe(true);
});

test('a newer link replaces older ones of its kind; expired and forged links open nothing', async () => {
  const older = await links.issue(id, 'Ann@example.com', 'email_verification', HOUR);
  const newer = await links.issue(id, 'Ann@example.com', 'email_verification', HOUR);
  expect(await links.peek(older, 'email_verification')).toEqual({ ok: false, problem: 'unknown' });
  expect(await links.verifyEmail(older)).toBeUndefined();
  await sql.query("UPDATE email_links SET expires_at = now() - interval '1 second'");
  expect(await links.peek(newer, 'email_verification')).toEqual({ ok: false, problem: 'expired' });
  expect(await links.verifyEmail(newer)).toBeUndefined();
  for (const forged of ['A'.repeat(43), 'short', undefined, 42]) expect(await links.peek(forged, 'email_verification')).toEqual({ ok: false, problem: 'unknown' });
});

test('an address change clears email_verified and ends the links sent to the old address; a disabled account opens none', async () => {
  await accounts.markEmailVerified(id);
  const token = await links.issue(id, 'Ann@example.com', 'email_verification', HOUR);
  // Only the case changed: the same address.
  await accounts.updateProfile(id, { email: 'ann@example.com' });
  expect((await accounts.findById(id))!.emailVerified).toBe(true);
  expect(await links.peek(token, 'email_verification')).toMatchObject({ ok: true });
  await accounts.updateProfile(id, { email: 'ann@elsewhere.example' });
  expect((await accounts.findById(id))!.emailVerified).toBe(false);
  expect(await links.peek(token, 'email_verification')).toEqual({ ok: false, problem: 'unknown' });
  expect(await links.verifyEmail(token)).toBeUndefined();

  const reset = await links.issue(id, 'ann@elsewhere.example', 'password_reset', HOUR);
  await accounts.setDisabled('ann@elsewhere.example', true);
  expect(await links.peek(reset, 'password_reset')).toEqual({ ok: false, problem: 'unknown' });
  expect(await links.resetPassword(reset, 'hash')).toBeUndefined();
  expect(await accounts.markEmailVerified('no-such-account')).toBe(false);
});
