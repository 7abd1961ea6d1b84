import { randomBytes } from 'node:crypto';
import { KeyRing, constantTimeEqual } from '../../src/crypto/index.ts';
import { PayloadCodec } from '../../src/store/index.ts';

const keys = new KeyRing(randomBytes(32));

test('sealed values open only with the same key and associated data', () => {
  const sealed = keys.seal('s3cret', 'client_secret:abc');
  expect(sealed).not.toContain('s3cret');
  expect(keys.open(sealed, 'client_secret:abc')).toBe('s3cret');
  expect(() => keys.open(sealed, 'client_secret:other')).toThrow();
  expect(() => new KeyRing(randomBytes(32)).open(sealed, 'client_secret:abc')).toThrow();
  const [v, iv, body, tag] = sealed.split('.');
  const flipped = Buffer.from(body, 'base64url');
  flipped[0] ^= 1;
  expect(() => keys.open([v, iv, flipped.toString('base64url'), tag].join('.'), 'client_secret:abc')).toThrow();
});

test('derived keys differ by purpose and are stable', () => {
  expect(keys.derive('cookies').equals(keys.derive('cookies'))).toBe(true);
  expect(keys.derive('cookies').equals(keys.derive('csrf'))).toBe(false);
});

test('constant-time comparison', () => {
  expect(constantTimeEqual('abc', 'abc')).toBe(true);
  expect(constantTimeEqual('abc', 'abd')).toBe(false);
  expect(constantTimeEqual('abc', 'abcd')).toBe(false);
});

test('token models are stored under a hash of their id, without the id', () => {
  const codec = new PayloadCodec(keys);
  const id = 'raw-refresh-token-value';
  expect(codec.storageId('RefreshToken', id)).not.toBe(id);
  expect(codec.storageId('Session', id)).toBe(id);
  const stored = codec.encode('RefreshToken', id, { jti: id, grantId: 'g' });
  expect(JSON.stringify(stored)).not.toContain(id);
  expect(codec.decode('RefreshToken', id, stored)).toEqual({ jti: id, grantId: 'g' });
});

test('client secrets are sealed at rest and bound to their client', () => {
  const codec = new PayloadCodec(keys);
  const stored = codec.encode('Client', 'c1', { client_id: 'c1', client_secret: 'very-secret' });
  expect(JSON.stringify(stored)).not.toContain('very-secret');
  expect(codec.decode('Client', 'c1', stored).client_secret).toBe('very-secret');
  expect(() => codec.decode('Client', 'c2', stored)).toThrow();
});
