import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

const DEBIAN_POSTGRES = '/usr/lib/postgresql';

/**
 * Where the fault tests find `initdb` and `postgres`: TEST_PG_BIN, or the newest Debian
 * postgresql package's (/usr/lib/postgresql/<version>/bin; not on PATH).
 */
export function postgresBinDir(): string {
  if (process.env.TEST_PG_BIN) return process.env.TEST_PG_BIN;
  const versions = existsSync(DEBIAN_POSTGRES)
    ? readdirSync(DEBIAN_POSTGRES).filter((v) => /^\d+$/.test(v)).sort((a, b) => Number(b) - Number(a))
    : [];
  const installed = versions.find((v) => existsSync(join(DEBIAN_POSTGRES, v, 'bin', 'initdb')));
  return join(DEBIAN_POSTGRES, installed ?? '15', 'bin');
}
