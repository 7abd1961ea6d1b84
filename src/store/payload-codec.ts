import { sha256, type KeyRing } from '../crypto/index.ts';

export type Payload = Record<string, unknown> & {
  grantId?: string;
  uid?: string;
  userCode?: string;
  accountId?: string;
  consumed?: number;
  jti?: string;
};

/**
 * Token values are their ids; a copy of the database must not hand them out. These models are
 * stored under the SHA-256 of their id and without the id in the payload.
 */
const HASHED_MODELS = new Set([
  'AccessToken', 'RefreshToken', 'AuthorizationCode', 'ClientCredentials',
  'RegistrationAccessToken', 'InitialAccessToken', 'DeviceCode', 'BackchannelAuthenticationRequest',
]);

/** Models whose records may be consumed only once: a second consume is a replay. */
export const CONSUMABLE_MODELS = new Set(['AuthorizationCode', 'RefreshToken', 'DeviceCode', 'BackchannelAuthenticationRequest']);

export class PayloadCodec {
  readonly #keys: KeyRing;

  constructor(keys: KeyRing) {
    this.#keys = keys;
  }

  storageId(model: string, id: string): string {
    return HASHED_MODELS.has(model) ? sha256(id) : id;
  }

  encode(model: string, id: string, payload: Payload): Payload {
    const stored: Payload = { ...payload };
    if (HASHED_MODELS.has(model)) {
      delete stored.jti;
      // Found by user code or uid, the record comes back with only its hashed id: keep the id sealed to restore jti.
      if (payload.userCode || payload.uid) stored.jti_sealed = this.#keys.seal(id, `jti:${model}:${this.storageId(model, id)}`);
    }
    if (model === 'Client' && typeof stored.client_secret === 'string') {
      stored.client_secret = this.#keys.seal(stored.client_secret, `client_secret:${id}`);
      stored.client_secret_sealed = true;
    }
    return stored;
  }

  decode(model: string, id: string, stored: Payload): Payload {
    const payload: Payload = { ...stored };
    if (HASHED_MODELS.has(model)) {
      payload.jti = id;
      delete payload.jti_sealed;
    }
    if (model === 'Client' && payload.client_secret_sealed === true && typeof payload.client_secret === 'string') {
      payload.client_secret = this.#keys.open(payload.client_secret, `client_secret:${id}`);
      delete payload.client_secret_sealed;
    }
    return payload;
  }

  /** Decodes a record found by uid or user code, whose storage id (not its id) is all that is known. */
  decodeByStorageId(model: string, storageId: string, stored: Payload): Payload {
    if (!HASHED_MODELS.has(model)) return this.decode(model, storageId, stored);
    if (typeof stored.jti_sealed !== 'string') throw new Error(`${model} record has no recoverable id`);
    return this.decode(model, this.#keys.open(stored.jti_sealed, `jti:${model}:${storageId}`), stored);
  }
}
