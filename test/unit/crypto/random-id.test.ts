import { randomId } from '../../../src/crypto/index.ts';

test('a random id never begins with a dash, so it can follow an option on a command line', () => {
  // With plain base64url one id in 64 begins with '-': 4,000 ids would all pass by chance once in 10^27.
  const ids = Array.from({ length: 4000 }, () => randomId(16));
  expect(ids.filter((id) => id.startsWith('-'))).toEqual([]);
  expect(ids.every((id) => /^[A-Za-z0-9_][A-Za-z0-9_-]{21}$/.test(id))).toBe(true);
  expect(new Set(ids).size).toBe(ids.length);
});
