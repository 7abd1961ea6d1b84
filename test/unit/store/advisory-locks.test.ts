import { ADVISORY_LOCKS } from '../../../src/store/index.ts';

test('every purpose takes an advisory lock of its own', () => {
  const ids = Object.values(ADVISORY_LOCKS);
  expect(new Set(ids).size).toBe(ids.length);
});
