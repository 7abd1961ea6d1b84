/** What the federation tests share: a secret sealed for the federation file by `vigil federation seal` (its stdin), an upstream's SET. */
import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { CompactSign } from 'jose';
import { join } from 'node:path';
import { baseEnv, ROOT } from './vigil-process.ts';

/** The sealed value `vigil federation seal <provider> <field>` prints for `secret` under `masterKey` (no database needed). */
export function sealWithCli(masterKey: string, provider: string, field: string, secret: string): string {
  return execFileSync(process.execPath, ['--disable-warning=ExperimentalWarning', join(ROOT, 'src/cli.ts'), 'federation', 'seal', provider, field], {
    input: secret, cwd: ROOT,
    env: { ...baseEnv(), VIGIL_MASTER_KEY: masterKey, DATABASE_URL: 'postgres://unused' },
  }).toString().trim();
}

/**
 * What an upstream's transmitter sends when it ends a person's session: a CAEP session-revoked SET
 * about `subject` (an iss_sub at `issuer`) for `audience`, signed with `key` under `kid`.
 */
export async function sessionRevokedSet(key: CryptoKey, kid: string, issuer: string, audience: string, subject: string): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  return new CompactSign(new TextEncoder().encode(JSON.stringify({
    iss: issuer, aud: audience, iat: now, jti: randomUUID(),
    sub_id: { format: 'iss_sub', iss: issuer, sub: subject },
    events: { 'https://schemas.openid.net/secevent/caep/event-type/session-revoked': { event_timestamp: now } },
  }))).setProtectedHeader({ alg: 'ES256', typ: 'secevent+jwt', kid }).sign(key);
}
