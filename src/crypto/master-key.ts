import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigError, type Config } from '../config/index.ts';

export interface MasterKeySource {
  key: Buffer;
  /** Set when the key was created just now, so start-up can say where it lives. */
  createdAt?: string;
}

/**
 * The master key encrypts secrets at rest. Shared-database modes must be given it
 * (every instance needs the same one); the embedded mode keeps one in its data directory.
 */
export function loadMasterKey(config: Config): MasterKeySource {
  if (config.VIGIL_MASTER_KEY) return { key: Buffer.from(config.VIGIL_MASTER_KEY, 'base64') };
  if (config.storageMode !== 'embedded') {
    throw new ConfigError('VIGIL_MASTER_KEY: required when DATABASE_URL is set (every instance must share it); create one with: openssl rand -base64 32');
  }
  mkdirSync(config.dataDir, { recursive: true, mode: 0o700 });
  const path = join(config.dataDir, 'master.key');
  if (existsSync(path)) {
    const mode = statSync(path).mode & 0o777;
    if (mode & 0o077) throw new ConfigError(`VIGIL_DATA_DIR: ${path} is readable by other users (mode ${mode.toString(8)}); chmod 600 it`);
    const key = Buffer.from(readFileSync(path, 'utf8').trim(), 'base64');
    if (key.length !== 32) throw new ConfigError(`VIGIL_DATA_DIR: ${path} does not hold a 32-byte base64 key`);
    return { key };
  }
  const key = randomBytes(32);
  writeFileSync(path, `${key.toString('base64')}\n`, { mode: 0o600, flag: 'wx' });
  return { key, createdAt: path };
}
