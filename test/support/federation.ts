/** What the federation tests share: a secret sealed for the federation file by `vigil federation seal` (its stdin). */
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { ROOT } from './vigil-process.ts';

/** The sealed value `vigil federation seal <provider> <field>` prints for `secret` under `masterKey` (no database needed). */
export function sealWithCli(masterKey: string, provider: string, field: string, secret: string): string {
  return execFileSync(process.execPath, ['--disable-warning=ExperimentalWarning', join(ROOT, 'src/cli.ts'), 'federation', 'seal', provider, field], {
    input: secret, cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', VIGIL_MASTER_KEY: masterKey, DATABASE_URL: 'postgres://unused' },
  }).toString().trim();
}
