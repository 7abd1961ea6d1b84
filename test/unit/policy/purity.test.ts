import { expectPure, sourceFiles } from '../../support/purity.ts';

/** Like the risk engine, policy evaluation stays pure: texts and facts in, decisions out; no I/O, no clock. */
const dir = new URL('../../../src/policy/', import.meta.url);

test.each(sourceFiles(dir))('src/policy/%s imports only its own modules and Cedar, and reads no clock or file', (file) => {
  expectPure(dir, file, (s) => /^\.\/[a-z-]+\.ts$/.test(s) || s === '@cedar-policy/cedar-wasm/nodejs' || s === 'node:buffer', ['readFile']);
});
