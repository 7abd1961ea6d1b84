/** Signs Security Event Tokens (RFC 8417, `typ: secevent+jwt`) with Vigil's current RS256 signing key. */
import { importJWK, SignJWT, type JWK } from 'jose';
import type { KeyRing } from '../crypto/index.ts';
import { loadJwks } from '../oidc/index.ts';
import type { Queryable } from '../store/index.ts';

/** Keys are re-read this often (a rotation reaches the signer as it reaches the provider). */
const KEY_CACHE_MS = 30_000;

export class SetSigner {
  readonly #db: Queryable;
  readonly #keys: KeyRing;
  readonly #issuer: string;
  #key: { jwk: JWK; key: CryptoKey | Uint8Array; until: number } | undefined;

  constructor(db: Queryable, keys: KeyRing, issuer: string) {
    this.#db = db;
    this.#keys = keys;
    this.#issuer = issuer;
  }

  async #signingKey(): Promise<{ jwk: JWK; key: CryptoKey | Uint8Array }> {
    if (this.#key && this.#key.until > Date.now()) return this.#key;
    const { keys } = await loadJwks(this.#db, this.#keys);
    // RS256 is what every receiver supports; a published key that must not sign carries key_ops ["verify"].
    const jwk = keys.find((k) => k.alg === 'RS256' && !k.key_ops?.includes('verify'));
    if (!jwk) throw new Error('no RS256 signing key is in force');
    this.#key = { jwk, key: await importJWK(jwk, 'RS256'), until: Date.now() + KEY_CACHE_MS };
    return this.#key;
  }

  /** The SET for `payload` (sub_id, events, txn) to `audience`, with `jti`, issued now. */
  async sign(audience: string | string[], jti: string, payload: Record<string, unknown>): Promise<string> {
    const { jwk, key } = await this.#signingKey();
    return new SignJWT(payload)
      .setProtectedHeader({ alg: 'RS256', typ: 'secevent+jwt', kid: jwk.kid! })
      .setIssuer(this.#issuer)
      // One audience is a string (as receivers compare it), several an array.
      .setAudience(Array.isArray(audience) && audience.length === 1 ? audience[0] : audience)
      .setJti(jti)
      .setIssuedAt()
      .sign(key);
  }
}
