import { readFileSync, readdirSync } from 'node:fs';

/** The engine must stay pure: no I/O, no clock, no randomness, no geoip (callers resolve places). */
const dir = new URL('../../../src/risk/', import.meta.url);
const files = readdirSync(dir).filter((f) => f.endsWith('.ts'));

describe('src/risk is pure', () => {
  test('has the modules the engine is made of', () => {
    expect(files).toEqual(expect.arrayContaining([
      'types.ts', 'ip.ts', 'ua.ts', 'geo-velocity.ts', 'behaviour.ts', 'device.ts', 'velocity.ts', 'network.ts',
      'history.ts', 'policy.ts', 'assess.ts', 'replay.ts', 'scoring.ts', 'index.ts',
    ]));
  });

  test.each(files)('%s imports only the engine, zod and the acr constants, and reads no clock', (file) => {
    const source = readFileSync(new URL(file, dir), 'utf8');
    const imports = [...source.matchAll(/^\s*(?:import|export)\b[^;]*?\bfrom\s+'([^']+)'/gm)].map((m) => m[1]);
    for (const specifier of imports) {
      expect([specifier, /^\.\/[a-z-]+\.ts$/.test(specifier) || specifier === 'zod' || specifier === '../config/acr.ts']).toEqual([specifier, true]);
    }
    const code = source.replace(/\/\*[\s\S]*?\*\//g, '').replace(/\/\/.*$/gm, '');
    for (const forbidden of ['Date.now', 'new Date(', 'Math.random', 'process.', 'require(', 'import(', 'performance.', 'setTimeout', 'fetch(']) {
      expect([file, forbidden, code.includes(forbidden)]).toEqual([file, forbidden, false]);
    }
  });
});
