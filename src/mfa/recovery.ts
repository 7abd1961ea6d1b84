import { randomInt } from 'node:crypto';
import type { KeyRing } from '../crypto/index.ts';
import type { Queryable } from '../store/index.ts';

const ALPHABET = 'abcdefghjkmnpqrstuvwxyz23456789';
export const RECOVERY_CODE_COUNT = 10;

function newCode(): string {
  const chars = Array.from({ length: 10 }, () => ALPHABET[randomInt(ALPHABET.length)]);
  return `${chars.slice(0, 5).join('')}-${chars.slice(5).join('')}`;
}

const normalize = (code: string) => code.toLowerCase().replace(/[^a-z0-9]/g, '');

/** Ten one-time codes, shown once, stored only as keyed hashes (they carry ~49 bits each). */
export class RecoveryCodes {
  readonly #db: Queryable;
  readonly #keys: KeyRing;

  constructor(db: Queryable, keys: KeyRing) {
    this.#db = db;
    this.#keys = keys;
  }

  /** The same codes over `db` (a transaction). */
  on(db: Queryable): RecoveryCodes {
    return new RecoveryCodes(db, this.#keys);
  }

  #hash(accountId: string, code: string) {
    return this.#keys.mac('recovery', `${accountId}:${normalize(code)}`);
  }

  /** Replaces any earlier codes. */
  async issue(accountId: string): Promise<string[]> {
    const codes = Array.from({ length: RECOVERY_CODE_COUNT }, newCode);
    await this.#db.query('DELETE FROM recovery_codes WHERE account_id = $1', [accountId]);
    await this.#db.query(
      'INSERT INTO recovery_codes (account_id, code_hash) SELECT $1, unnest($2::text[])',
      [accountId, codes.map((c) => this.#hash(accountId, c))],
    );
    return codes;
  }

  async consume(accountId: string, code: string): Promise<boolean> {
    if (normalize(code).length !== 10) return false;
    const { rowCount } = await this.#db.query(
      'UPDATE recovery_codes SET used_at = now() WHERE account_id = $1 AND code_hash = $2 AND used_at IS NULL',
      [accountId, this.#hash(accountId, code)],
    );
    return rowCount === 1;
  }

  async remaining(accountId: string): Promise<number> {
    const { rows } = await this.#db.query<{ n: string }>('SELECT count(*) AS n FROM recovery_codes WHERE account_id = $1 AND used_at IS NULL', [accountId]);
    return Number(rows[0]?.n ?? 0);
  }

  async clear(accountId: string): Promise<void> {
    await this.#db.query('DELETE FROM recovery_codes WHERE account_id = $1', [accountId]);
  }
}
