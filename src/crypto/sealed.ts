import { createCipheriv, createDecipheriv, createHmac, hkdfSync, randomBytes, timingSafeEqual, createHash } from 'node:crypto';

const VERSION = 'v1';

/** Keys for separate purposes, all derived from the one master key. */
export class KeyRing {
  readonly #master: Buffer;
  readonly #encryption: Buffer;
  /** MAC keys by purpose: HKDF once per purpose, not once per MAC (the purposes are a fixed few). */
  readonly #macKeys = new Map<string, Buffer>();

  constructor(master: Buffer) {
    this.#master = master;
    this.#encryption = this.derive('encryption');
  }

  derive(purpose: string, length = 32): Buffer {
    return Buffer.from(hkdfSync('sha256', this.#master, Buffer.alloc(0), `vigil:${purpose}:v1`, length));
  }

  /** AES-256-GCM; the associated data binds a ciphertext to the record it belongs to. */
  seal(plaintext: string, associatedData = ''): string {
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.#encryption, iv);
    cipher.setAAD(Buffer.from(associatedData));
    const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
    return [VERSION, iv.toString('base64url'), body.toString('base64url'), cipher.getAuthTag().toString('base64url')].join('.');
  }

  open(sealed: string, associatedData = ''): string {
    const [version, iv, body, tag] = sealed.split('.');
    if (version !== VERSION || !iv || body === undefined || !tag) throw new Error('sealed value has an unknown format');
    const decipher = createDecipheriv('aes-256-gcm', this.#encryption, Buffer.from(iv, 'base64url'));
    decipher.setAAD(Buffer.from(associatedData));
    decipher.setAuthTag(Buffer.from(tag, 'base64url'));
    return Buffer.concat([decipher.update(Buffer.from(body, 'base64url')), decipher.final()]).toString('utf8');
  }

  mac(purpose: string, value: string): string {
    let key = this.#macKeys.get(purpose);
    if (!key) this.#macKeys.set(purpose, key = this.derive(`mac:${purpose}`));
    return createHmac('sha256', key).update(value).digest('base64url');
  }
}

export function constantTimeEqual(a: string, b: string): boolean {
  const ha = createHash('sha256').update(a).digest();
  const hb = createHash('sha256').update(b).digest();
  return timingSafeEqual(ha, hb) && a.length === b.length;
}

export function sha256(value: string): string {
  return createHash('sha256').update(value).digest('base64url');
}
