/** One rule for the URLs of SSF settings and requests: https, or http on loopback; no credentials, no fragment. */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadTransmitters } from '../../../src/ssf/index.ts';
import { createStreamSchema, firstIssue } from '../../../src/ssf/schemas.ts';

const RULE = 'must be an https URL (http only on localhost), without credentials or fragment';
const PUSH = 'urn:ietf:rfc:8935';

const ACCEPTED = ['https://receiver.example/events', 'http://localhost:8080/events', 'http://127.0.0.1/events', 'http://[::1]:9/events'];
const REFUSED = [
  'http://receiver.example/events', 'http://127.0.0.2/events', 'ftp://receiver.example/events', 'https://user:pw@receiver.example/events',
  'https://receiver.example/events#frag', 'not a url',
];

function transmitterFile(jwksUri: string): string {
  const path = join(mkdtempSync(join(tmpdir(), 'vigil-transmitters-')), 'transmitters.json');
  writeFileSync(path, JSON.stringify({ transmitters: [{ issuer: 'https://idp.example', jwks_uri: jwksUri }] }));
  return path;
}
const load = (jwksUri: string) => loadTransmitters(transmitterFile(jwksUri), { issuer: 'https://vigil.test', maxAgeSeconds: 300 });

test.each(ACCEPTED)('accepted: %s', (url) => {
  expect(createStreamSchema.safeParse({ delivery: { method: PUSH, endpoint_url: url } }).success).toBe(true);
  expect(load(url)[0].jwksUri).toBe(url);
});

test.each(REFUSED)('refused: %s', (url) => {
  const stream = createStreamSchema.safeParse({ delivery: { method: PUSH, endpoint_url: url } });
  expect(stream.success).toBe(false);
  expect(firstIssue(stream.error!)).toBe(`delivery.endpoint_url: endpoint_url ${RULE}`);
  expect(() => load(url)).toThrow(`transmitters.0.jwks_uri: ${RULE}`);
});

test('refused: longer than 2048 characters', () => {
  const url = `https://receiver.example/${'a'.repeat(2048)}`;
  const stream = createStreamSchema.safeParse({ delivery: { method: PUSH, endpoint_url: url } });
  expect(stream.success).toBe(false);
  expect(firstIssue(stream.error!)).toMatch(/^delivery\.endpoint_url: Too big/);
  expect(() => load(url)).toThrow(/transmitters\.0\.jwks_uri: Too big/);
});
