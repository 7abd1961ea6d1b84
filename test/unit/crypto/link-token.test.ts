import { linkTokenHash, newLinkToken } from '../../../src/crypto/index.ts';

test('a new link token hashes to what is stored, and a cut, padded or foreign token hashes to nothing', () => {
  const { token, hash } = newLinkToken();
  expect(linkTokenHash(token)).toBe(hash);
  expect(hash).not.toContain(token);
  expect(newLinkToken().token).not.toBe(token);
  for (const bad of [token.slice(1), `${token}=`, `${token.slice(0, 42)}+`, '', 42, null, undefined, token.toUpperCase() === token ? 'x' : `${token} `]) {
    expect(linkTokenHash(bad)).toBeNull();
  }
});
