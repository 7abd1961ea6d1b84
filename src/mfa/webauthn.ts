import { msg, type Message } from '../i18n/index.ts';
import type { AuthenticationResponseJSON, RegistrationResponseJSON } from '@simplewebauthn/server';
import type { Queryable } from '../store/index.ts';
import { ChallengeStore } from './challenges.ts';

type SimpleWebAuthn = typeof import('@simplewebauthn/server');
let simpleWebAuthnLoading: Promise<SimpleWebAuthn> | undefined;

/** The WebAuthn library (and its certificate stack) loads at the first passkey ceremony: a start and every `vigil` command go without it. */
function simpleWebAuthn(): Promise<SimpleWebAuthn> {
  simpleWebAuthnLoading ??= import('@simplewebauthn/server');
  return simpleWebAuthnLoading;
}

/** A passkey whose signature counter went backwards: a copy of it is in use somewhere. */
const CLONED = 'This passkey reported a signature counter lower than before, so it may have been cloned: it was refused. Sign in another way and remove it on your account page.';

export interface RelyingParty {
  id: string;
  name: string;
  origin: string;
}

export interface Passkey {
  id: string;
  name: string;
  deviceType: string;
  backedUp: boolean;
  transports: string[];
  createdAt: Date;
  lastUsedAt?: Date;
}

export interface PasskeyAssertion {
  accountId: string;
  credentialId: string;
  userVerified: boolean;
  /** RFC 8176: hwk for a device-bound key, swk for a synced passkey; `user` when verified. */
  amr: string[];
}

export type PasskeyFailure = 'expired' | 'unknown_credential' | 'wrong_account' | 'invalid' | 'duplicate' | 'counter_regression';

/** What a person is told when a passkey is refused, by the reason (the error's message is the log's). */
export const PASSKEY_FAILURE_MESSAGES: Record<PasskeyFailure, Message> = {
  expired: msg('webauthn.errors.expired'),
  invalid: msg('webauthn.errors.invalid'),
  duplicate: msg('webauthn.errors.duplicate'),
  unknown_credential: msg('webauthn.errors.unknownCredential'),
  wrong_account: msg('webauthn.errors.wrongAccount'),
  counter_regression: msg('webauthn.errors.cloned'),
};

export class PasskeyError extends Error {
  override name = 'PasskeyError';
  readonly code: PasskeyFailure;

  constructor(code: PasskeyFailure, message: string) {
    super(message);
    this.code = code;
  }
}

interface Row {
  id: string;
  account_id: string;
  name: string;
  public_key: string;
  sign_count: string;
  transports: string[];
  device_type: string;
  backed_up: boolean;
  created_at: Date;
  last_used_at: Date | null;
}

const toPasskey = (r: Row): Passkey => ({
  id: r.id, name: r.name, deviceType: r.device_type, backedUp: r.backed_up, transports: r.transports,
  createdAt: new Date(r.created_at), lastUsedAt: r.last_used_at ? new Date(r.last_used_at) : undefined,
});

const CHALLENGE_TTL = 300;

/** WebAuthn registration and assertion, with challenges bound to one ceremony each. */
export class Passkeys {
  readonly #db: Queryable;
  readonly #challenges: ChallengeStore;
  readonly rp: RelyingParty;

  constructor(db: Queryable, challenges: ChallengeStore, rp: RelyingParty) {
    this.#db = db;
    this.#challenges = challenges;
    this.rp = rp;
  }

  /** The same passkeys over `db` (a transaction), their challenges included. */
  on(db: Queryable): Passkeys {
    return new Passkeys(db, new ChallengeStore(db), this.rp);
  }

  async list(accountId: string): Promise<Passkey[]> {
    const { rows } = await this.#db.query<Row>('SELECT * FROM webauthn_credentials WHERE account_id = $1 ORDER BY created_at', [accountId]);
    return rows.map(toPasskey);
  }

  async registrationOptions(account: { id: string; email: string; displayName: string }, ceremonyId: string) {
    const existing = await this.list(account.id);
    const { generateRegistrationOptions } = await simpleWebAuthn();
    const options = await generateRegistrationOptions({
      rpName: this.rp.name,
      rpID: this.rp.id,
      userName: account.email,
      userDisplayName: account.displayName || account.email,
      userID: new TextEncoder().encode(account.id),
      attestationType: 'none',
      excludeCredentials: existing.map((p) => ({ id: p.id, transports: p.transports })),
      authenticatorSelection: { residentKey: 'preferred', userVerification: 'preferred' },
      timeout: CHALLENGE_TTL * 1000,
    });
    await this.#challenges.put(ceremonyId, 'webauthn.register', { challenge: options.challenge }, CHALLENGE_TTL, account.id);
    return options;
  }

  async register(accountId: string, ceremonyId: string, response: RegistrationResponseJSON, name: string): Promise<Passkey> {
    const stored = await this.#challenges.take<{ challenge: string }>(ceremonyId, 'webauthn.register');
    if (!stored || stored.accountId !== accountId) throw new PasskeyError('expired', 'The registration took too long or was already used. Please try again.');
    const { verifyRegistrationResponse } = await simpleWebAuthn();
    let verification;
    try {
      verification = await verifyRegistrationResponse({
        response, expectedChallenge: stored.data.challenge, expectedOrigin: this.rp.origin, expectedRPID: this.rp.id, requireUserVerification: false,
      });
    } catch (err) {
      throw new PasskeyError('invalid', `The passkey's answer could not be verified: ${(err as Error).message}`);
    }
    if (!verification.verified) throw new PasskeyError('invalid', 'The passkey\'s answer could not be verified.');
    const info = verification.registrationInfo;
    const { rows } = await this.#db.query<Row>(
      `INSERT INTO webauthn_credentials (id, account_id, name, public_key, sign_count, transports, device_type, backed_up, aaguid)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (id) DO NOTHING RETURNING *`,
      [info.credential.id, accountId, name, Buffer.from(info.credential.publicKey).toString('base64url'), info.credential.counter,
        info.credential.transports ?? [], info.credentialDeviceType, info.credentialBackedUp, info.aaguid],
    );
    if (!rows[0]) throw new PasskeyError('duplicate', 'This passkey is already registered.');
    return toPasskey(rows[0]);
  }

  /** For a known account (second factor) or, without one, for a discoverable passkey (passwordless). */
  async authenticationOptions(ceremonyId: string, accountId?: string) {
    const allow = accountId ? await this.list(accountId) : [];
    const { generateAuthenticationOptions } = await simpleWebAuthn();
    const options = await generateAuthenticationOptions({
      rpID: this.rp.id,
      allowCredentials: allow.map((p) => ({ id: p.id, transports: p.transports as never })),
      userVerification: accountId ? 'preferred' : 'required',
      timeout: CHALLENGE_TTL * 1000,
    });
    await this.#challenges.put(ceremonyId, 'webauthn.authenticate', { challenge: options.challenge }, CHALLENGE_TTL, accountId);
    return options;
  }

  async authenticate(ceremonyId: string, response: AuthenticationResponseJSON): Promise<PasskeyAssertion> {
    const stored = await this.#challenges.take<{ challenge: string }>(ceremonyId, 'webauthn.authenticate');
    if (!stored) throw new PasskeyError('expired', 'The sign-in took too long or was already used. Please try again.');
    const { rows } = await this.#db.query<Row>('SELECT * FROM webauthn_credentials WHERE id = $1', [String(response?.id ?? '')]);
    const row = rows[0];
    if (!row) throw new PasskeyError('unknown_credential', 'This passkey is not registered with Vigil.');
    if (stored.accountId && row.account_id !== stored.accountId) throw new PasskeyError('wrong_account', 'This passkey belongs to another account.');
    const passwordless = !stored.accountId;
    if (passwordless && response.response?.userHandle && Buffer.from(response.response.userHandle, 'base64url').toString('utf8') !== row.account_id) {
      throw new PasskeyError('wrong_account', 'This passkey belongs to another account.');
    }
    const { verifyAuthenticationResponse } = await simpleWebAuthn();
    let verification;
    try {
      verification = await verifyAuthenticationResponse({
        response,
        expectedChallenge: stored.data.challenge,
        expectedOrigin: this.rp.origin,
        expectedRPID: this.rp.id,
        // Counter 0: the library compares counters before checking the signature, which would let a
        // forged answer (no key, just the credential ID) raise a clone alarm; compared below instead.
        credential: { id: row.id, publicKey: Buffer.from(row.public_key, 'base64url'), counter: 0, transports: row.transports },
        requireUserVerification: passwordless,
      });
    } catch (err) {
      throw new PasskeyError('invalid', `The passkey's answer could not be verified: ${(err as Error).message}`);
    }
    if (!verification.verified) throw new PasskeyError('invalid', 'The passkey\'s answer could not be verified.');
    const { newCounter, userVerified, credentialBackedUp } = verification.authenticationInfo;
    const storedCounter = Number(row.sign_count);
    if ((newCounter > 0 || storedCounter > 0) && newCounter <= storedCounter) {
      throw new PasskeyError('counter_regression', CLONED);
    }
    // Counter compare-and-set: two assertions racing with the same counter cannot both pass.
    const { rowCount } = await this.#db.query(
      `UPDATE webauthn_credentials SET sign_count = $2, backed_up = $3, last_used_at = now()
       WHERE id = $1 AND (sign_count < $2 OR $2 = 0)`,
      [row.id, newCounter, credentialBackedUp],
    );
    if (rowCount === 0) throw new PasskeyError('counter_regression', CLONED);
    const amr = [row.device_type === 'multiDevice' ? 'swk' : 'hwk', ...(userVerified ? ['user'] : [])];
    return { accountId: row.account_id, credentialId: row.id, userVerified, amr };
  }

  async rename(accountId: string, id: string, name: string): Promise<boolean> {
    const { rowCount } = await this.#db.query('UPDATE webauthn_credentials SET name = $3 WHERE id = $1 AND account_id = $2', [id, accountId, name]);
    return rowCount === 1;
  }

  /** The removed passkey (its transports say what kind of authenticator it was), or undefined when there was none. */
  async remove(accountId: string, id: string): Promise<{ transports: string[] } | undefined> {
    const { rows } = await this.#db.query<{ transports: string[] }>('DELETE FROM webauthn_credentials WHERE id = $1 AND account_id = $2 RETURNING transports', [id, accountId]);
    return rows[0];
  }
}
