import { readFile } from 'node:fs/promises';
import { FederationError } from '../source.ts';
import type { SamlFields } from './config.ts';
import { MetadataError, parseIdpMetadata, type IdpMetadata } from './metadata.ts';

/** The fetch the federation core hands every source: SSRF-guarded, with its own time limit. */
export type OutgoingFetch = (url: string, init?: RequestInit) => Promise<Response>;

// IdPs roll their signing keys with both certificates in the metadata for days; an hour is soon enough.
const METADATA_TTL_MS = 60 * 60 * 1000;
// After a refused signature the metadata is read again, but not more often than this (refused posts cost nothing to send).
const REREAD_AFTER_FAILURE_MS = 60 * 1000;
const MAX_METADATA_BYTES = 1024 * 1024;

/** The IdP's metadata from the file or URL of one provider, kept for METADATA_TTL_MS. */
export class IdpMetadataLoader {
  readonly #provider: Pick<SamlFields, 'idp_metadata_file' | 'idp_metadata_url'>;
  readonly #fetch: OutgoingFetch;
  readonly #timeoutMs: number;
  readonly #now: () => number;
  #cached: { metadata: IdpMetadata; at: number; until: number } | undefined;
  #loading: Promise<IdpMetadata> | undefined;

  constructor(provider: Pick<SamlFields, 'idp_metadata_file' | 'idp_metadata_url'>, fetch: OutgoingFetch, timeoutMs: number, now: () => number = Date.now) {
    this.#provider = provider;
    this.#fetch = fetch;
    this.#timeoutMs = timeoutMs;
    this.#now = now;
  }

  /** The metadata last read, if any, however old. */
  get current(): IdpMetadata | undefined {
    return this.#cached?.metadata;
  }

  /** The kept metadata, or freshly loaded once it is older than the TTL (one load at a time). */
  async load(): Promise<IdpMetadata> {
    if (this.#cached && this.#cached.until > this.#now()) return this.#cached.metadata;
    this.#loading ??= this.fresh().finally(() => { this.#loading = undefined; });
    return this.#loading;
  }

  /**
   * A signature did not verify: the IdP may have rolled its key before the kept metadata expired,
   * so the next sign-in reads the metadata again (at most once a minute).
   */
  reloadSoon(): void {
    if (this.#cached) this.#cached.until = Math.min(this.#cached.until, this.#cached.at + REREAD_AFTER_FAILURE_MS);
  }

  /** Reads or fetches the metadata now, and keeps it. */
  async fresh(): Promise<IdpMetadata> {
    const xml = await this.#read();
    let metadata: IdpMetadata;
    try {
      metadata = parseIdpMetadata(xml);
    } catch (err) {
      if (err instanceof MetadataError) throw new FederationError('invalid_metadata', `The identity provider's SAML metadata cannot be used: ${err.message}.`);
      throw err;
    }
    this.#cached = { metadata, at: this.#now(), until: this.#now() + METADATA_TTL_MS };
    return metadata;
  }

  async #read(): Promise<string> {
    const { idp_metadata_file: file, idp_metadata_url: url } = this.#provider;
    if (file) {
      try {
        return await readFile(file, 'utf8');
      } catch (err) {
        throw new FederationError('metadata_unavailable', `The identity provider's SAML metadata file cannot be read (${(err as NodeJS.ErrnoException).code ?? 'error'}).`, true);
      }
    }
    const unavailable = (why: string) => new FederationError('metadata_unavailable', `The identity provider's SAML metadata cannot be fetched: ${why}.`, true);
    let text: string;
    try {
      const response = await this.#fetch(url!, {
        headers: { accept: 'application/samlmetadata+xml, application/xml, text/xml' },
        redirect: 'error',
        signal: AbortSignal.timeout(this.#timeoutMs),
      });
      if (!response.ok) throw unavailable(`the URL answered ${response.status}`);
      text = await response.text();
    } catch (err) {
      if (err instanceof FederationError) throw err;
      const e = err as Error;
      // The outgoing guard's refusal names the setting that would allow the address: worth showing.
      throw unavailable(e.name === 'OutgoingRefused' ? e.message : e.name === 'TimeoutError' ? 'no answer in time' : 'the address cannot be reached');
    }
    if (Buffer.byteLength(text) > MAX_METADATA_BYTES) throw new FederationError('invalid_metadata', 'The identity provider\'s SAML metadata is larger than 1 MiB.');
    return text;
  }
}
