import { createECDH, createHash, createPrivateKey, createPublicKey, sign, type KeyObject } from 'node:crypto';
import type { AuthenticationResponseJSON, RegistrationResponseJSON } from '@simplewebauthn/server';
import { cose, isoBase64URL, isoCBOR } from '@simplewebauthn/server/helpers';

/**
 * A software WebAuthn authenticator for tests: one ES256 (P-256) credential, attestation "none".
 *
 * Deterministic: the key pair and the credential ID derive from a seed, so a given seed always
 * yields the same credential (ECDSA signatures themselves stay randomised, as node:crypto signs).
 * Every value that goes into a response can be overridden, so tests can forge bad ones.
 */

export const FLAG = { UP: 0x01, UV: 0x04, BE: 0x08, BS: 0x10, AT: 0x40, ED: 0x80 } as const;

const sha256 = (data: Uint8Array | string): Uint8Array => new Uint8Array(createHash('sha256').update(data).digest());
const b64u = (bytes: Uint8Array): string => Buffer.from(bytes).toString('base64url');
type CBOR = Parameters<typeof isoCBOR.encode>[0];
const concat = (...parts: Uint8Array[]): Uint8Array => new Uint8Array(Buffer.concat(parts));
const u32 = (n: number): Uint8Array => {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n >>> 0);
  return new Uint8Array(b);
};
const u16 = (n: number): Uint8Array => {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(n);
  return new Uint8Array(b);
};

/** The base64url user handle a browser returns for a Vigil account (its id, UTF-8). */
export const userHandleOf = (accountId: string): string => isoBase64URL.fromUTF8String(accountId);

export interface SoftAuthenticatorOptions {
  /** Derives the key pair and credential ID; same seed, same credential. */
  seed?: string;
  /** Overrides the derived credential ID. */
  credentialId?: Uint8Array;
  /** Backup eligible (BE) and backed up (BS): a synced passkey, "multiDevice". */
  backupEligible?: boolean;
  backedUp?: boolean;
  transports?: string[];
  attachment?: 'platform' | 'cross-platform';
}

/** What goes into authenticator data; every field overridable. */
export interface AuthDataInput {
  rpId: string;
  /** Replaces sha256(rpId). */
  rpIdHash?: Uint8Array;
  userPresent?: boolean;
  userVerified?: boolean;
  backupEligible?: boolean;
  backedUp?: boolean;
  /** Replaces the whole flags byte computed from the booleans above. */
  flags?: number;
  signCount?: number;
}

export interface RegisterInput extends AuthDataInput {
  challenge: string;
  origin: string;
  /** The user handle (options.user.id, base64url) a resident credential remembers. */
  userId?: string;
  type?: string;
  crossOrigin?: boolean;
  /** Replaces the clientDataJSON text entirely. */
  clientDataJSON?: string;
  credentialId?: Uint8Array;
  aaguid?: Uint8Array;
  /** Replaces the COSE public key bytes in the attested credential data. */
  cosePublicKey?: Uint8Array;
  fmt?: string;
  attStmt?: Map<string, CBOR>;
  transports?: string[];
  attachment?: 'platform' | 'cross-platform';
}

export interface AssertInput extends AuthDataInput {
  challenge: string;
  origin: string;
  /** base64url; defaults to the one remembered at registration; null leaves it out. */
  userHandle?: string | null;
  type?: string;
  crossOrigin?: boolean;
  clientDataJSON?: string;
  /** The ID sent in id/rawId (the signature still comes from this authenticator's key). */
  credentialId?: Uint8Array;
  /** Signs with another key (e.g. another authenticator's). */
  signingKey?: KeyObject;
  /** Flips the last byte of the DER signature (keeps the DER structure valid). */
  corruptSignature?: boolean;
  attachment?: 'platform' | 'cross-platform';
}

export class SoftAuthenticator {
  readonly privateKey: KeyObject;
  readonly publicKey: KeyObject;
  readonly credentialId: Uint8Array;
  readonly x: Uint8Array;
  readonly y: Uint8Array;
  readonly options: SoftAuthenticatorOptions;
  /** The authenticator's own counter, used when a call gives no signCount. */
  counter = 0;
  /** Remembered from registration (a discoverable credential stores it). */
  userHandle?: string;

  constructor(options: SoftAuthenticatorOptions = {}) {
    this.options = options;
    const seed = options.seed ?? 'vigil-soft-authenticator';
    // A private scalar from the seed; sha256 output is below the P-256 order with overwhelming odds,
    // and createECDH rejects it otherwise, so a bad seed fails loudly rather than silently.
    const d = sha256(`key:${seed}`);
    const ecdh = createECDH('prime256v1');
    ecdh.setPrivateKey(d);
    const point = ecdh.getPublicKey(); // 0x04 | x | y
    this.x = new Uint8Array(point.subarray(1, 33));
    this.y = new Uint8Array(point.subarray(33, 65));
    const jwk = { kty: 'EC', crv: 'P-256', x: b64u(this.x), y: b64u(this.y) };
    this.privateKey = createPrivateKey({ key: { ...jwk, d: b64u(d) }, format: 'jwk' });
    this.publicKey = createPublicKey({ key: jwk, format: 'jwk' });
    this.credentialId = options.credentialId ?? sha256(`credential:${seed}`);
  }

  /** base64url credential ID, as stored by Vigil. */
  get id(): string {
    return b64u(this.credentialId);
  }

  /** COSE_Key {1:2 (EC2), 3:-7 (ES256), -1:1 (P-256), -2:x, -3:y}. */
  cosePublicKey(): Uint8Array {
    const key = new Map<number, number | Uint8Array>([
      [cose.COSEKEYS.kty, cose.COSEKTY.EC2],
      [cose.COSEKEYS.alg, cose.COSEALG.ES256],
      [cose.COSEKEYS.crv, cose.COSECRV.P256],
      [cose.COSEKEYS.x, this.x],
      [cose.COSEKEYS.y, this.y],
    ]);
    return isoCBOR.encode(key);
  }

  flags(input: AuthDataInput, attested: boolean): number {
    if (input.flags !== undefined) return input.flags;
    let flags = 0;
    if (input.userPresent ?? true) flags |= FLAG.UP;
    if (input.userVerified ?? true) flags |= FLAG.UV;
    if (input.backupEligible ?? this.options.backupEligible ?? false) flags |= FLAG.BE;
    if (input.backedUp ?? this.options.backedUp ?? false) flags |= FLAG.BS;
    if (attested) flags |= FLAG.AT;
    return flags;
  }

  /** rpIdHash | flags | signCount [| attestedCredentialData]. */
  authData(input: AuthDataInput, signCount: number, attestedCredentialData?: Uint8Array): Uint8Array {
    return concat(
      input.rpIdHash ?? sha256(input.rpId),
      new Uint8Array([this.flags(input, attestedCredentialData !== undefined)]),
      u32(signCount),
      ...(attestedCredentialData ? [attestedCredentialData] : []),
    );
  }

  static clientData(type: string, input: { challenge: string; origin: string; crossOrigin?: boolean; clientDataJSON?: string }): Uint8Array {
    const text = input.clientDataJSON
      ?? JSON.stringify({ type, challenge: input.challenge, origin: input.origin, crossOrigin: input.crossOrigin ?? false });
    return new TextEncoder().encode(text);
  }

  /** navigator.credentials.create(), attestation "none", as RegistrationResponseJSON. */
  register(input: RegisterInput): RegistrationResponseJSON {
    const credentialId = input.credentialId ?? this.credentialId;
    const signCount = input.signCount ?? this.counter;
    const attested = concat(
      input.aaguid ?? new Uint8Array(16),
      u16(credentialId.length),
      credentialId,
      input.cosePublicKey ?? this.cosePublicKey(),
    );
    const authData = this.authData(input, signCount, attested);
    const attestationObject = isoCBOR.encode(new Map<string, CBOR>([
      ['fmt', input.fmt ?? 'none'],
      ['attStmt', input.attStmt ?? new Map<string, CBOR>()],
      ['authData', authData],
    ]));
    const clientDataJSON = SoftAuthenticator.clientData(input.type ?? 'webauthn.create', input);
    if (input.userId !== undefined) this.userHandle = input.userId;
    return this.credentialJSON(credentialId, input, {
      clientDataJSON: b64u(clientDataJSON),
      attestationObject: b64u(attestationObject),
      transports: input.transports ?? this.options.transports ?? ['usb'],
    });
  }

  /**
   * navigator.credentials.get() as AuthenticationResponseJSON: an ECDSA P-256/SHA-256 DER
   * signature over authData || sha256(clientDataJSON). Without signCount, the counter goes up by one.
   */
  assert(input: AssertInput): AuthenticationResponseJSON {
    const credentialId = input.credentialId ?? this.credentialId;
    const signCount = input.signCount ?? ++this.counter;
    if (input.signCount !== undefined && input.signCount > this.counter) this.counter = input.signCount;
    const authData = this.authData(input, signCount);
    const clientDataJSON = SoftAuthenticator.clientData(input.type ?? 'webauthn.get', input);
    const signature = new Uint8Array(sign('sha256', concat(authData, sha256(clientDataJSON)), input.signingKey ?? this.privateKey));
    if (input.corruptSignature) signature[signature.length - 1] ^= 0x01;
    const userHandle = input.userHandle === undefined ? this.userHandle : input.userHandle ?? undefined;
    return this.credentialJSON(credentialId, input, {
      clientDataJSON: b64u(clientDataJSON),
      authenticatorData: b64u(authData),
      signature: b64u(signature),
      ...(userHandle !== undefined ? { userHandle } : {}),
    });
  }

  /** The PublicKeyCredential (as JSON) around a registration or assertion response. */
  private credentialJSON<R>(credentialId: Uint8Array, input: { attachment?: 'platform' | 'cross-platform' }, response: R) {
    return {
      id: b64u(credentialId),
      rawId: b64u(credentialId),
      type: 'public-key' as const,
      response,
      clientExtensionResults: {},
      authenticatorAttachment: input.attachment ?? this.options.attachment ?? 'cross-platform',
    };
  }
}
