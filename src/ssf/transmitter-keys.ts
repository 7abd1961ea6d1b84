/**
 * The verification keys of trusted transmitters: inline in the configuration, or fetched from
 * their `jwks_uri` through oidc-provider's SSRF-guarded fetch (as pushes are sent) and kept
 * briefly. A key id not in the cached set refetches it (a rotation), at most every few seconds.
 */
import type Provider from 'oidc-provider';
import fetchRequest from 'oidc-provider/lib/helpers/fetch_request.js';
import { createLocalJWKSet, type JSONWebKeySet, type JWSHeaderParameters, type FlattenedJWSInput } from 'jose';
import type { TrustedTransmitter } from './transmitters.ts';

type KeyResolver = (header: JWSHeaderParameters, token: FlattenedJWSInput) => Promise<CryptoKey>;

/** How long a fetched key set is used. */
const CACHE_MS = 5 * 60_000;
/** The shortest time between two fetches of one key set (an unknown `kid` does not hammer the transmitter). */
const REFETCH_MS = 10_000;
const MAX_JWKS_BYTES = 64 * 1024;

export class TransmitterKeyError extends Error {
  override name = 'TransmitterKeyError';
}

interface Cached {
  resolve: KeyResolver;
  kids: Set<string | undefined>;
  fetchedAt: number;
}

export class TransmitterKeys {
  readonly #provider: () => Provider;
  readonly #inline = new WeakMap<TrustedTransmitter, KeyResolver>();
  readonly #fetched = new Map<string, Cached>();
  readonly #pending = new Map<string, Promise<Cached>>();

  constructor(provider: () => Provider) {
    this.#provider = provider;
  }

  /** A jose key resolver for the transmitter's SETs (`kid` picks the key). */
  async resolver(transmitter: TrustedTransmitter, kid: string | undefined): Promise<KeyResolver> {
    if (transmitter.jwks) {
      let resolve = this.#inline.get(transmitter);
      if (!resolve) {
        resolve = createLocalJWKSet(transmitter.jwks as JSONWebKeySet);
        this.#inline.set(transmitter, resolve);
      }
      return resolve;
    }
    const uri = transmitter.jwksUri!;
    let cached = this.#fetched.get(uri);
    const age = cached ? Date.now() - cached.fetchedAt : Infinity;
    if (!cached || age > CACHE_MS || (!cached.kids.has(kid) && age > REFETCH_MS)) {
      cached = await this.#fetch(uri).catch((err: unknown) => {
        // The transmitter's keys cannot be had now: a cached set still serves its known keys.
        if (cached) return cached;
        throw err;
      });
    }
    return cached.resolve;
  }

  #fetch(uri: string): Promise<Cached> {
    let pending = this.#pending.get(uri);
    if (!pending) {
      pending = this.#load(uri).finally(() => this.#pending.delete(uri));
      this.#pending.set(uri, pending);
    }
    return pending;
  }

  async #load(uri: string): Promise<Cached> {
    let response: Response;
    try {
      response = await fetchRequest(this.#provider(), uri, { method: 'GET', headers: { accept: 'application/json' }, redirect: 'manual' });
    } catch (err) {
      throw new TransmitterKeyError(`the transmitter's jwks_uri could not be fetched: ${(err as Error).message}`);
    }
    if (response.status !== 200) {
      await response.body?.cancel();
      throw new TransmitterKeyError(`the transmitter's jwks_uri answered ${response.status}`);
    }
    const text = await response.text();
    let jwks: JSONWebKeySet;
    try {
      if (text.length > MAX_JWKS_BYTES) throw new Error('too large');
      jwks = JSON.parse(text) as JSONWebKeySet;
      if (!Array.isArray(jwks?.keys)) throw new Error('no keys array');
    } catch (err) {
      throw new TransmitterKeyError(`the transmitter's jwks_uri did not return a JWK set: ${(err as Error).message}`);
    }
    const cached = { resolve: createLocalJWKSet(jwks), kids: new Set(jwks.keys.map((k) => k.kid)), fetchedAt: Date.now() };
    this.#fetched.set(uri, cached);
    return cached;
  }
}
