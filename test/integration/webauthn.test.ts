import { PgliteSql } from '../../src/store/sql.ts';
import { migrate } from '../../src/store/migrate.ts';
import { AccountStore, type Account } from '../../src/identity/accounts.ts';
import { ChallengeStore } from '../../src/mfa/challenges.ts';
import { PasskeyError, Passkeys, type PasskeyFailure } from '../../src/mfa/webauthn.ts';
import { SoftAuthenticator, userHandleOf, type AssertInput, type RegisterInput } from '../support/soft-authenticator.ts';

/**
 * WebAuthn ceremonies against Passkeys with a software authenticator and an in-memory PGlite:
 * registration and assertion, every refusal with its PasskeyError code, and that a refusal
 * leaves the stored credentials (rows, sign_count, last use) exactly as they were.
 */

const RP = { id: 'localhost', name: 'Vigil', origin: 'http://localhost:3000' };
const at = { rpId: RP.id, origin: RP.origin };

let sql: PgliteSql;
let accounts: AccountStore;
let passkeys: Passkeys;
let seq = 0;

const ceremony = (label = 'c') => `${label}:${++seq}`;

async function newAccount(name: string): Promise<Account> {
  return accounts.create({ email: `${name}-${++seq}@vigil.test`, displayName: name });
}

/** Everything a ceremony could change in webauthn_credentials. */
async function credentials() {
  const { rows } = await sql.query<Record<string, unknown>>(
    `SELECT id, account_id, name, public_key, sign_count::text AS sign_count, transports, device_type, backed_up, aaguid, last_used_at
     FROM webauthn_credentials ORDER BY id`,
  );
  return rows;
}

async function signCount(id: string): Promise<number> {
  const { rows } = await sql.query<{ sign_count: string }>('SELECT sign_count::text AS sign_count FROM webauthn_credentials WHERE id = $1', [id]);
  return Number(rows[0].sign_count);
}

async function credentialCount(accountId?: string): Promise<number> {
  const { rows } = accountId
    ? await sql.query<{ n: number }>('SELECT count(*)::int AS n FROM webauthn_credentials WHERE account_id = $1', [accountId])
    : await sql.query<{ n: number }>('SELECT count(*)::int AS n FROM webauthn_credentials');
  return rows[0].n;
}

/** Expects the PasskeyError code, and that webauthn_credentials did not change meanwhile. */
async function refused(action: () => Promise<unknown>, code: PasskeyFailure): Promise<PasskeyError> {
  const before = await credentials();
  let caught: unknown;
  try {
    await action();
  } catch (err) {
    caught = err;
  }
  expect(caught).toBeInstanceOf(PasskeyError);
  expect({ code: (caught as PasskeyError).code, message: (caught as PasskeyError).message }).toEqual({ code, message: expect.any(String) });
  expect(await credentials()).toEqual(before);
  return caught as PasskeyError;
}

/** A new registration ceremony for the account: its id and options. */
async function registration(account: Account) {
  const id = ceremony('register');
  return { id, options: await passkeys.registrationOptions(account, id) };
}

/** A new authentication ceremony, as a second factor for `accountId` or (without) passwordless: its id and options. */
async function authentication(accountId?: string) {
  const id = ceremony('auth');
  return { id, options: await passkeys.authenticationOptions(id, accountId) };
}

/** registrationOptions → the authenticator → register. */
async function enrol(account: Account, auth: SoftAuthenticator, name = 'Security key') {
  const { id, options } = await registration(account);
  return passkeys.register(account.id, id, auth.register({ ...at, challenge: options.challenge, userId: options.user.id }), name);
}

/** A registered account and its authenticator. */
async function enrolled(label: string, auth = new SoftAuthenticator({ seed: `${label}-${++seq}` })) {
  const account = await newAccount(label);
  await enrol(account, auth);
  return { account, auth };
}

beforeAll(async () => {
  sql = await PgliteSql.open(undefined);
  await migrate(sql);
  accounts = new AccountStore(sql);
  passkeys = new Passkeys(sql, new ChallengeStore(sql), RP);
});

afterAll(async () => {
  await sql?.close();
});

describe('soft authenticator', () => {
  test('is deterministic: same seed, same credential and key', () => {
    const a = new SoftAuthenticator({ seed: 'same' });
    const b = new SoftAuthenticator({ seed: 'same' });
    const c = new SoftAuthenticator({ seed: 'other' });
    expect(a.id).toBe(b.id);
    expect(a.cosePublicKey()).toEqual(b.cosePublicKey());
    expect(c.id).not.toBe(a.id);
    expect(c.cosePublicKey()).not.toEqual(a.cosePublicKey());
  });
});

describe('registration', () => {
  test('registrationOptions → register stores, lists and names the passkey', async () => {
    const account = await newAccount('ada');
    const auth = new SoftAuthenticator({ seed: 'ada-key', transports: ['usb', 'nfc'] });
    const { id, options } = await registration(account);
    expect(options.rp).toEqual({ id: RP.id, name: RP.name });
    expect(options.user.id).toBe(userHandleOf(account.id));
    expect(options.attestation).toBe('none');
    expect(options.excludeCredentials).toEqual([]);

    const passkey = await passkeys.register(account.id, id, auth.register({ ...at, challenge: options.challenge, userId: options.user.id }), 'YubiKey');
    expect(passkey).toMatchObject({ id: auth.id, name: 'YubiKey', deviceType: 'singleDevice', backedUp: false, transports: ['usb', 'nfc'] });
    expect(passkey.createdAt).toBeInstanceOf(Date);
    expect(passkey.lastUsedAt).toBeUndefined();

    expect(await passkeys.list(account.id)).toEqual([passkey]);
    const [row] = (await credentials()).filter((r) => r.id === auth.id);
    expect(row).toMatchObject({
      account_id: account.id, name: 'YubiKey', sign_count: '0',
      public_key: Buffer.from(auth.cosePublicKey()).toString('base64url'),
      aaguid: '00000000-0000-0000-0000-000000000000',
    });
    // The challenge is gone; the next registration excludes the key.
    await refused(() => passkeys.register(account.id, id, auth.register({ ...at, challenge: options.challenge }), 'again'), 'expired');
    const { options: next } = await registration(account);
    expect(next.excludeCredentials).toEqual([{ id: auth.id, type: 'public-key', transports: ['usb', 'nfc'] }]);
  });

  test('a synced passkey (BE+BS) is stored as multiDevice and backed up', async () => {
    const account = await newAccount('sync');
    const passkey = await enrol(account, new SoftAuthenticator({ seed: 'synced', backupEligible: true, backedUp: true, attachment: 'platform', transports: ['internal', 'hybrid'] }), 'Phone');
    expect(passkey).toMatchObject({ deviceType: 'multiDevice', backedUp: true, transports: ['internal', 'hybrid'] });
  });

  test.each<[name: string, label: string, forged: Partial<RegisterInput>, message: RegExp]>([
    ['an answer from another origin is refused', 'origin', { origin: 'https://evil.example' }, /origin/i],
    ['an answer for another RP ID is refused', 'rpid', { rpId: 'evil.example' }, /RP ID/i],
  ])('%s', async (_name, label, forged, message) => {
    const account = await newAccount(label);
    const auth = new SoftAuthenticator({ seed: `reg-${label}` });
    const { id, options } = await registration(account);
    const error = await refused(() => passkeys.register(account.id, id, auth.register({ ...at, ...forged, challenge: options.challenge }), 'k'), 'invalid');
    expect(error.message).toMatch(message);
    expect(await credentialCount(account.id)).toBe(0);
  });

  test('an answer to the challenge of another ceremony is refused', async () => {
    const account = await newAccount('cross');
    const auth = new SoftAuthenticator({ seed: 'reg-cross' });
    const { id: a, options: optionsA } = await registration(account);
    const { id: b, options: optionsB } = await registration(account);
    expect(optionsA.challenge).not.toBe(optionsB.challenge);
    const error = await refused(() => passkeys.register(account.id, b, auth.register({ ...at, challenge: optionsA.challenge }), 'k'), 'invalid');
    expect(error.message).toMatch(/challenge/i);
    expect(await credentialCount(account.id)).toBe(0);
    // B is spent by the failed attempt; A still answers its own challenge.
    await refused(() => passkeys.register(account.id, b, auth.register({ ...at, challenge: optionsB.challenge }), 'k'), 'expired');
    await passkeys.register(account.id, a, auth.register({ ...at, challenge: optionsA.challenge }), 'k');
    expect(await credentialCount(account.id)).toBe(1);
  });

  test('a registration ceremony of one account cannot register a key on another', async () => {
    const ada = await newAccount('owner');
    const eve = await newAccount('eve');
    const auth = new SoftAuthenticator({ seed: 'reg-account' });
    const { id, options } = await registration(ada);
    await refused(() => passkeys.register(eve.id, id, auth.register({ ...at, challenge: options.challenge }), 'k'), 'expired');
    expect(await credentialCount(eve.id)).toBe(0);
    expect(await credentialCount(ada.id)).toBe(0);
  });

  test('replaying the same registration response is refused (the challenge is single-use)', async () => {
    const account = await newAccount('replay');
    const auth = new SoftAuthenticator({ seed: 'reg-replay' });
    const { id, options } = await registration(account);
    const response = auth.register({ ...at, challenge: options.challenge });
    await passkeys.register(account.id, id, response, 'first');
    await refused(() => passkeys.register(account.id, id, response, 'second'), 'expired');
    expect((await passkeys.list(account.id)).map((p) => p.name)).toEqual(['first']);
  });

  test('the same credential cannot be registered twice, on the same or another account', async () => {
    const { account, auth } = await enrolled('twice');
    const again = await refused(() => enrol(account, auth, 'again'), 'duplicate');
    expect(again.message).toMatch(/already registered/);
    const other = await newAccount('thief');
    await refused(() => enrol(other, auth, 'stolen'), 'duplicate');
    expect(await credentialCount(account.id)).toBe(1);
    expect(await credentialCount(other.id)).toBe(0);
    expect((await passkeys.list(account.id)).map((p) => p.name)).toEqual(['Security key']);
  });

  test('an expired registration challenge is refused', async () => {
    const account = await newAccount('late');
    const auth = new SoftAuthenticator({ seed: 'reg-late' });
    const { id, options } = await registration(account);
    await sql.query("UPDATE mfa_challenges SET expires_at = now() - interval '1 second' WHERE id = $1", [id]);
    await refused(() => passkeys.register(account.id, id, auth.register({ ...at, challenge: options.challenge }), 'k'), 'expired');
    expect(await credentialCount(account.id)).toBe(0);
  });
});

describe('authentication', () => {
  test('second factor: hwk, plus user when verified; the counter and last use are recorded', async () => {
    const { account, auth } = await enrolled('second');
    const { id, options } = await authentication(account.id);
    expect(options.rpId).toBe(RP.id);
    expect(options.userVerification).toBe('preferred');
    expect(options.allowCredentials).toEqual([{ id: auth.id, type: 'public-key', transports: ['usb'] }]);

    const verified = await passkeys.authenticate(id, auth.assert({ ...at, challenge: options.challenge, userVerified: true, signCount: 1 }));
    expect(verified).toEqual({ accountId: account.id, credentialId: auth.id, userVerified: true, amr: ['hwk', 'user'] });
    expect(await signCount(auth.id)).toBe(1);
    expect((await passkeys.list(account.id))[0].lastUsedAt).toBeInstanceOf(Date);

    const { id: id2, options: options2 } = await authentication(account.id);
    const present = await passkeys.authenticate(id2, auth.assert({ ...at, challenge: options2.challenge, userVerified: false, signCount: 2 }));
    expect(present).toEqual({ accountId: account.id, credentialId: auth.id, userVerified: false, amr: ['hwk'] });
    expect(await signCount(auth.id)).toBe(2);
  });

  test('a synced passkey gives swk', async () => {
    const { account, auth } = await enrolled('swk', new SoftAuthenticator({ seed: 'swk', backupEligible: true, backedUp: true }));
    const { id, options } = await authentication(account.id);
    const result = await passkeys.authenticate(id, auth.assert({ ...at, challenge: options.challenge }));
    expect(result.amr).toEqual(['swk', 'user']);
  });

  test('user presence is required', async () => {
    const { account, auth } = await enrolled('absent');
    const { id, options } = await authentication(account.id);
    await refused(() => passkeys.authenticate(id, auth.assert({ ...at, challenge: options.challenge, userPresent: false, userVerified: false })), 'invalid');
  });

  test('passwordless requires user verification', async () => {
    const { account, auth } = await enrolled('passwordless');
    const { id, options } = await authentication();
    expect(options.userVerification).toBe('required');
    expect(options.allowCredentials).toEqual([]);
    const error = await refused(() => passkeys.authenticate(id, auth.assert({ ...at, challenge: options.challenge, userVerified: false })), 'invalid');
    expect(error.message).toMatch(/user verification/i);
    expect(await signCount(auth.id)).toBe(0);

    const { id: id2, options: options2 } = await authentication();
    const result = await passkeys.authenticate(id2, auth.assert({ ...at, challenge: options2.challenge, userVerified: true }));
    expect(result).toEqual({ accountId: account.id, credentialId: auth.id, userVerified: true, amr: ['hwk', 'user'] });
    expect(auth.userHandle).toBe(userHandleOf(account.id));
  });

  test('an answer to the challenge of another ceremony is refused', async () => {
    const { account, auth } = await enrolled('other-challenge');
    const { id: a, options: optionsA } = await authentication(account.id);
    const { id: b, options: optionsB } = await authentication(account.id);
    const error = await refused(() => passkeys.authenticate(b, auth.assert({ ...at, challenge: optionsA.challenge })), 'invalid');
    expect(error.message).toMatch(/challenge/i);
    expect(await signCount(auth.id)).toBe(0);
    // B was spent; A still works with its own challenge.
    await refused(() => passkeys.authenticate(b, auth.assert({ ...at, challenge: optionsB.challenge })), 'expired');
    await expect(passkeys.authenticate(a, auth.assert({ ...at, challenge: optionsA.challenge }))).resolves.toMatchObject({ accountId: account.id });
  });

  test.each<[name: string, label: string, forged: Partial<AssertInput>, message: RegExp | undefined]>([
    ['an answer from another origin is refused', 'assert-origin', { origin: 'https://evil.example' }, /origin/i],
    ['a wrong RP ID hash is refused', 'assert-rpid', { rpId: 'evil.example' }, /RP ID/i],
    ['a webauthn.create client data type is refused in an assertion', 'assert-type', { type: 'webauthn.create' }, undefined],
  ])('%s', async (_name, label, forged, message) => {
    const { account, auth } = await enrolled(label);
    const { id, options } = await authentication(account.id);
    const error = await refused(() => passkeys.authenticate(id, auth.assert({ ...at, ...forged, challenge: options.challenge })), 'invalid');
    if (message) expect(error.message).toMatch(message);
  });

  test('an unknown credential is refused', async () => {
    const { account } = await enrolled('unknown');
    const stranger = new SoftAuthenticator({ seed: 'never-registered' });
    const { id, options } = await authentication(account.id);
    await refused(() => passkeys.authenticate(id, stranger.assert({ ...at, challenge: options.challenge })), 'unknown_credential');
    const { id: id2, options: options2 } = await authentication();
    await refused(() => passkeys.authenticate(id2, stranger.assert({ ...at, challenge: options2.challenge })), 'unknown_credential');
  });

  test('second factor for account X refuses a credential of another account', async () => {
    const x = await enrolled('x');
    const y = await enrolled('y');
    const { id, options } = await authentication(x.account.id);
    await refused(() => passkeys.authenticate(id, y.auth.assert({ ...at, challenge: options.challenge })), 'wrong_account');
    expect(await signCount(y.auth.id)).toBe(0);
  });

  test('passwordless refuses a user handle of another account', async () => {
    const x = await enrolled('handle-x');
    const y = await newAccount('handle-y');
    const { id, options } = await authentication();
    await refused(() => passkeys.authenticate(id, x.auth.assert({ ...at, challenge: options.challenge, userHandle: userHandleOf(y.id) })), 'wrong_account');
    expect(await signCount(x.auth.id)).toBe(0);
  });

  test('a counter that goes back is refused and the stored counter stays', async () => {
    const { account, auth } = await enrolled('counter');
    const answer = async (count: number) => {
      const { id, options } = await authentication(account.id);
      return () => passkeys.authenticate(id, auth.assert({ ...at, challenge: options.challenge, signCount: count }));
    };
    await (await answer(5))();
    expect(await signCount(auth.id)).toBe(5);
    const error = await refused(await answer(3), 'counter_regression');
    expect(error.message).toMatch(/cloned/);
    await refused(await answer(5), 'counter_regression');
    await refused(await answer(0), 'counter_regression');
    expect(await signCount(auth.id)).toBe(5);
    await (await answer(6))();
    expect(await signCount(auth.id)).toBe(6);
  });

  test('an authenticator without a counter (always 0) keeps working', async () => {
    const { account, auth } = await enrolled('no-counter');
    for (let i = 0; i < 3; i++) {
      const { id, options } = await authentication(account.id);
      await expect(passkeys.authenticate(id, auth.assert({ ...at, challenge: options.challenge, signCount: 0 }))).resolves.toMatchObject({ accountId: account.id });
    }
    expect(await signCount(auth.id)).toBe(0);
  });

  test('two racing assertions with the same counter: one passes, one is refused', async () => {
    const { account, auth } = await enrolled('race');
    const { id: a, options: optionsA } = await authentication(account.id);
    const { id: b, options: optionsB } = await authentication(account.id);
    const results = await Promise.allSettled([
      passkeys.authenticate(a, auth.assert({ ...at, challenge: optionsA.challenge, signCount: 7 })),
      passkeys.authenticate(b, auth.assert({ ...at, challenge: optionsB.challenge, signCount: 7 })),
    ]);
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    const rejected = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    expect(rejected).toHaveLength(1);
    expect(rejected[0].reason).toMatchObject({ code: 'counter_regression' });
    expect(await signCount(auth.id)).toBe(7);
  });

  test('replaying an assertion is refused: same ceremony expired, another ceremony invalid', async () => {
    const { account, auth } = await enrolled('assert-replay');
    const { id, options } = await authentication(account.id);
    const response = auth.assert({ ...at, challenge: options.challenge, signCount: 0 });
    await passkeys.authenticate(id, response);
    await refused(() => passkeys.authenticate(id, response), 'expired');
    const { id: id2 } = await authentication(account.id);
    await refused(() => passkeys.authenticate(id2, response), 'invalid');
  });

  test('an expired challenge is refused', async () => {
    const { account, auth } = await enrolled('assert-late');
    const { id, options } = await authentication(account.id);
    await sql.query("UPDATE mfa_challenges SET expires_at = now() - interval '1 second' WHERE id = $1", [id]);
    await refused(() => passkeys.authenticate(id, auth.assert({ ...at, challenge: options.challenge })), 'expired');
    const { rowCount } = await sql.query('SELECT 1 FROM mfa_challenges WHERE id = $1', [id]);
    expect(rowCount).toBe(0);
  });

  test('a registration challenge does not answer an authentication ceremony', async () => {
    const { account, auth } = await enrolled('purpose');
    const id = ceremony('mixed');
    const options = await passkeys.registrationOptions(account, id);
    await refused(() => passkeys.authenticate(id, auth.assert({ ...at, challenge: options.challenge })), 'expired');
  });

  test('a bad signature is refused', async () => {
    const { account, auth } = await enrolled('badsig');
    const { id, options } = await authentication(account.id);
    const error = await refused(() => passkeys.authenticate(id, auth.assert({ ...at, challenge: options.challenge, corruptSignature: true })), 'invalid');
    expect(error.message).toMatch(/could not be verified/);

    // Signed by another key, and a signature left unchanged over tampered authenticator data.
    const other = new SoftAuthenticator({ seed: 'impostor' });
    const { id: id2, options: options2 } = await authentication(account.id);
    await refused(() => passkeys.authenticate(id2, auth.assert({ ...at, challenge: options2.challenge, signingKey: other.privateKey })), 'invalid');
    const { id: id3, options: options3 } = await authentication(account.id);
    const genuine = auth.assert({ ...at, challenge: options3.challenge, signCount: 9 });
    const data = Buffer.from(genuine.response.authenticatorData, 'base64url');
    data.writeUInt32BE(10, 33);
    const tampered = { ...genuine, response: { ...genuine.response, authenticatorData: data.toString('base64url') } };
    await refused(() => passkeys.authenticate(id3, tampered), 'invalid');
    expect(await signCount(auth.id)).toBe(0);
  });

  test('a forged assertion (bad signature) with a lower counter is invalid, not a clone alarm', async () => {
    const { account, auth } = await enrolled('forged-counter');
    const { id, options } = await authentication(account.id);
    await passkeys.authenticate(id, auth.assert({ ...at, challenge: options.challenge, signCount: 5 }));
    const impostor = new SoftAuthenticator({ seed: 'forger' });
    const { id: id2, options: options2 } = await authentication(account.id);
    // Anyone who knows the credential ID (allowCredentials lists it) can send this without the key.
    await refused(() => passkeys.authenticate(id2, auth.assert({ ...at, challenge: options2.challenge, signCount: 1, signingKey: impostor.privateKey })), 'invalid');
    expect(await signCount(auth.id)).toBe(5);
  });
});
