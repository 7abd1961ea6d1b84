/** Jest runs the TypeScript sources as ESM through SWC; type checking is `tsc --noEmit`. */
export default {
  testEnvironment: 'node',
  extensionsToTreatAsEsm: ['.ts'],
  transform: {
    '^.+\\.ts$': ['@swc/jest', {
      jsc: { parser: { syntax: 'typescript' }, target: 'es2024' },
      module: { type: 'es6' },
    }],
  },
  testMatch: ['<rootDir>/test/**/*.test.ts'],
  testTimeout: 60000,
  // Two files at a time: most of a file's time is spent waiting on the servers it starts, and every
  // file has its own database, Redis database (leased), ports and issuer, so they cannot meet.
  maxWorkers: 2,
  // One compile cache for the processes the tests spawn (see the files).
  globalSetup: '<rootDir>/test/support/compile-cache-setup.js',
  globalTeardown: '<rootDir>/test/support/compile-cache-teardown.js',
};
