import { expectPure, sourceFiles } from '../../support/purity.ts';

/** Like the risk engine, policy evaluation stays pure: texts and facts in, decisions out; no I/O, no clock. */
const dir = new URL('../../../src/policy/', import.meta.url);

test.each(sourceFiles(dir))('src/policy/%s imports only its own modules and Cedar, and reads no clock or file', (file) => {
  // node:module: engine.ts loads Cedar on first use (createRequire), nothing else.
  const allowed = (s: string) => /^\.\/[a-z-]+\.ts$/.test(s) || s === '@cedar-policy/cedar-wasm/nodejs' || s === 'node:buffer' || (file === 'engine.ts' && s === 'node:module');
  expectPure(dir, file, allowed, ['readFile']);
});
