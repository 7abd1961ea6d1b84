import { readFileSync, readdirSync } from 'node:fs';

/** Like the risk engine, policy evaluation stays pure: texts and facts in, decisions out; no I/O, no clock. */
const dir = new URL('../../../src/policy/', import.meta.url);
const files = readdirSync(dir).filter((f) => f.endsWith('.ts'));

test.each(files)('src/policy/%s imports only its own modules and Cedar, and reads no clock or file', (file) => {
  const source = readFileSync(new URL(file, dir), 'utf8');
  const imports = [...source.matchAll(/^\s*(?:import|export)\b[^;]*?\bfrom\s+'([^']+)'/gm)].map((m) => m[1]);
  for (const specifier of imports) {
    expect([specifier, /^\.\/[a-z-]+\.ts$/.test(specifier) || specifier === '@cedar-policy/cedar-wasm/nodejs' || specifier === 'node:buffer']).toEqual([specifier, true]);
  }
  const code = source.replace(/\/\*[\s\S]*?\*\//g, '').replace(/\/\/.*$/gm, '');
  for (const forbidden of ['Date.now', 'new Date(', 'Math.random', 'process.', 'require(', 'import(', 'performance.', 'setTimeout', 'fetch(', 'readFile']) {
    expect([file, forbidden, code.includes(forbidden)]).toEqual([file, forbidden, false]);
  }
});
