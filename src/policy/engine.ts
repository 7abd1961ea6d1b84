import { createRequire } from 'node:module';
import type * as CedarModule from '@cedar-policy/cedar-wasm/nodejs';

type Cedar = typeof CedarModule;
let loaded: Cedar | undefined;

/**
 * The Cedar engine, compiled on first use (a 4 MB WebAssembly module): a process that decides nothing — most
 * `vigil` commands — does not pay for it.
 */
export function cedar(): Cedar {
  loaded ??= createRequire(import.meta.url)('@cedar-policy/cedar-wasm/nodejs') as Cedar;
  return loaded;
}
