/**
 * Jest's global setup: one Node compile cache for the run, in a fresh temporary directory
 * (removed by compile-cache-teardown.js). Every Vigil process and `vigil` command a test spawns
 * (hundreds) loads the same ~1400 modules; with the cache only the first one compiles them.
 * vigil-process.ts hands it to the processes it spawns as NODE_COMPILE_CACHE.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export default function setup() {
  process.env.VIGIL_TEST_COMPILE_CACHE = mkdtempSync(join(tmpdir(), 'vigil-compile-cache-'));
}
