import { randomBytes } from 'node:crypto';
import { sha256 } from './sealed.ts';

/**
 * The secret in an emailed link (an invitation, a password reset, an address check). Only its
 * hash is stored, so a copy of the database opens no link; 256 random bits make the hash a safe
 * lookup key without a slow KDF.
 */
const TOKEN_PATTERN = /^[A-Za-z0-9_-]{43}$/;

export function newLinkToken(): { token: string; hash: string } {
  const token = randomBytes(32).toString('base64url');
  return { token, hash: sha256(token) };
}

/** The stored hash of a token from a link, or null when the text cannot be a token (a forged or cut link). */
export function linkTokenHash(token: unknown): string | null {
  return typeof token === 'string' && TOKEN_PATTERN.test(token) ? sha256(token) : null;
}
