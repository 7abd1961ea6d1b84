import { generateSecret, generateURI, verify } from 'otplib';
import type { KeyRing } from '../crypto/index.ts';
import type { Queryable } from '../store/index.ts';

const PERIOD = 30;

export interface TotpEnrolment {
  secret: string;
  uri: string;
  /** The otpauth URI as an SVG QR code, ready for an <img src>. */
  qrDataUri: string;
}

export type TotpCheck = 'ok' | 'wrong' | 'replayed' | 'not_enrolled';

interface Row { secret_sealed: string; confirmed_at: Date | null; last_time_step: string }

/** TOTP (RFC 6238, SHA-1, 6 digits, 30 s): ±1 time step, each step usable once. */
export class TotpFactors {
  readonly #db: Queryable;
  readonly #keys: KeyRing;
  readonly #issuerName: string;

  constructor(db: Queryable, keys: KeyRing, issuerName: string) {
    this.#db = db;
    this.#keys = keys;
    this.#issuerName = issuerName;
  }

  /** The same factors over `db` (a transaction). */
  on(db: Queryable): TotpFactors {
    return new TotpFactors(db, this.#keys, this.#issuerName);
  }

  #seal(accountId: string, secret: string) {
    return this.#keys.seal(secret, `totp:${accountId}`);
  }

  /** A new secret and how an app takes it, stored nowhere (for an enrolment whose account does not exist yet). */
  async prepare(label: string): Promise<TotpEnrolment> {
    return this.#enrolment(generateSecret({ length: 20 }), label);
  }

  async #enrolment(secret: string, label: string): Promise<TotpEnrolment> {
    const uri = generateURI({ issuer: this.#issuerName, label, secret, period: PERIOD });
    // The QR code library loads at the first enrolment: a start and every `vigil` command go without it.
    const { default: QRCode } = await import('qrcode');
    const svg = await QRCode.toString(uri, { type: 'svg', margin: 1 });
    return { secret, uri, qrDataUri: `data:image/svg+xml;base64,${Buffer.from(svg).toString('base64')}` };
  }

  /** The time step `code` is valid for under `secret`, or undefined when it is not a current code. */
  async #timeStep(secret: string, code: string): Promise<number | undefined> {
    if (!/^\d{6}$/.test(code)) return undefined;
    const result = await verify({ secret, token: code, period: PERIOD, epochTolerance: PERIOD });
    return result.valid && 'timeStep' in result ? result.timeStep : undefined;
  }

  /**
   * Stores a `prepare`d secret as the account's confirmed factor when `code` is a current code for
   * it (its time step counts as used); `wrong` otherwise, or when the account already has one.
   */
  async enrolConfirmed(accountId: string, secret: string, code: string): Promise<TotpCheck> {
    const timeStep = await this.#timeStep(secret, code);
    if (timeStep === undefined) return 'wrong';
    const { rowCount } = await this.#db.query(
      `INSERT INTO totp_factors (account_id, secret_sealed, confirmed_at, last_time_step) VALUES ($1, $2, now(), $3) ON CONFLICT (account_id) DO NOTHING`,
      [accountId, this.#seal(accountId, secret), timeStep],
    );
    return rowCount === 1 ? 'ok' : 'wrong';
  }

  /** Starts (or restarts) an enrolment; the factor counts only once confirmed with a code. */
  async begin(accountId: string, label: string): Promise<TotpEnrolment> {
    const secret = generateSecret({ length: 20 });
    const { rowCount } = await this.#db.query(
      `INSERT INTO totp_factors (account_id, secret_sealed) VALUES ($1, $2)
       ON CONFLICT (account_id) DO UPDATE SET secret_sealed = EXCLUDED.secret_sealed, last_time_step = 0, created_at = now()
       WHERE totp_factors.confirmed_at IS NULL`,
      [accountId, this.#seal(accountId, secret)],
    );
    if (rowCount === 0) throw new Error('an authenticator app is already enrolled; remove it first');
    return this.#enrolment(secret, label);
  }

  async pendingSecret(accountId: string): Promise<string | undefined> {
    const { rows } = await this.#db.query<Row>('SELECT secret_sealed FROM totp_factors WHERE account_id = $1 AND confirmed_at IS NULL', [accountId]);
    return rows[0] && this.#keys.open(rows[0].secret_sealed, `totp:${accountId}`);
  }

  async isEnrolled(accountId: string): Promise<boolean> {
    const { rowCount } = await this.#db.query('SELECT 1 FROM totp_factors WHERE account_id = $1 AND confirmed_at IS NOT NULL', [accountId]);
    return rowCount > 0;
  }

  async #check(accountId: string, code: string, confirmed: boolean): Promise<TotpCheck> {
    const { rows } = await this.#db.query<Row>(
      `SELECT secret_sealed, confirmed_at, last_time_step FROM totp_factors WHERE account_id = $1 AND confirmed_at IS ${confirmed ? 'NOT ' : ''}NULL`,
      [accountId],
    );
    if (!rows[0]) return 'not_enrolled';
    const timeStep = await this.#timeStep(this.#keys.open(rows[0].secret_sealed, `totp:${accountId}`), code);
    if (timeStep === undefined) return 'wrong';
    // Compare-and-set on the time step: a code (or an older one) is accepted once, even under races.
    const { rowCount } = await this.#db.query(
      `UPDATE totp_factors SET last_time_step = $2${confirmed ? '' : ', confirmed_at = now()'} WHERE account_id = $1 AND last_time_step < $2`,
      [accountId, timeStep],
    );
    return rowCount === 1 ? 'ok' : 'replayed';
  }

  /** Confirms a pending enrolment with its first code. */
  confirm(accountId: string, code: string): Promise<TotpCheck> {
    return this.#check(accountId, code, false);
  }

  verify(accountId: string, code: string): Promise<TotpCheck> {
    return this.#check(accountId, code, true);
  }

  async remove(accountId: string): Promise<boolean> {
    const { rowCount } = await this.#db.query('DELETE FROM totp_factors WHERE account_id = $1', [accountId]);
    return rowCount > 0;
  }
}
