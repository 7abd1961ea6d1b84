import { expectPure, sourceFiles } from '../../support/purity.ts';

/** The engine must stay pure: no I/O, no clock, no randomness, no geoip (callers resolve places). */
const dir = new URL('../../../src/risk/', import.meta.url);
const files = sourceFiles(dir);

describe('src/risk is pure', () => {
  test('has the modules the engine is made of', () => {
    expect(files).toEqual(expect.arrayContaining([
      'types.ts', 'ip.ts', 'ua.ts', 'geo-velocity.ts', 'behaviour.ts', 'device.ts', 'velocity.ts', 'network.ts',
      'history.ts', 'policy.ts', 'assess.ts', 'replay.ts', 'scoring.ts', 'index.ts',
    ]));
  });

  test.each(files)('%s imports only the engine, zod and the acr constants, and reads no clock', (file) => {
    expectPure(dir, file, (s) => /^\.\/[a-z-]+\.ts$/.test(s) || s === 'zod' || s === '../config/acr.ts');
  });
});
