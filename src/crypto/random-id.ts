import { randomBytes } from 'node:crypto';

/**
 * `bytes` random bytes as base64url, never beginning with '-': an id that begins with one reads
 * as an option when it follows `--client` on a command line (ours and everyone's), so one client
 * in 64 could not be named there.
 */
export function randomId(bytes: number): string {
  for (;;) {
    const id = randomBytes(bytes).toString('base64url');
    if (!id.startsWith('-')) return id;
  }
}
