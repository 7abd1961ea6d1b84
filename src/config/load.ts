import { readFileSync, existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { settingsSchema, type Settings } from './schema.ts';

export class ConfigError extends Error {
  override name = 'ConfigError';
}

export type StorageMode = 'embedded' | 'postgres' | 'postgres+redis';

export interface Config extends Settings {
  ISSUER: string;
  storageMode: StorageMode;
  dataDir: string;
}

function readJsonFile(path: string): Record<string, unknown> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new ConfigError(`${path}: not valid JSON (${(err as Error).message})`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new ConfigError(`${path}: must hold a JSON object of settings`);
  }
  return parsed as Record<string, unknown>;
}

/**
 * Settings come from config/vigil.json (if present, or the file named by VIGIL_CONFIG_FILE),
 * overridden by the environment. Unknown keys in the file are refused so that typos surface.
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env, cwd = process.cwd()): Config {
  const file = env.VIGIL_CONFIG_FILE ? resolve(cwd, env.VIGIL_CONFIG_FILE) : resolve(cwd, 'config', 'vigil.json');
  if (env.VIGIL_CONFIG_FILE && !existsSync(file)) throw new ConfigError(`VIGIL_CONFIG_FILE: ${file} does not exist`);
  const fromFile = existsSync(file) ? readJsonFile(file) : {};
  const known = new Set(Object.keys(settingsSchema.shape));
  for (const key of Object.keys(fromFile)) {
    if (!known.has(key)) throw new ConfigError(`${file}: unknown setting ${key}`);
  }
  const raw: Record<string, unknown> = { ...fromFile };
  for (const key of known) {
    const value = env[key];
    if (value !== undefined && value !== '') raw[key] = value;
  }
  const result = settingsSchema.safeParse(raw);
  if (!result.success) {
    const lines = result.error.issues.map((issue) => `${issue.path.join('.') || '(settings)'}: ${issue.message}`);
    throw new ConfigError(`invalid configuration:\n  ${lines.join('\n  ')}`);
  }
  const settings = result.data;
  if (settings.REDIS_URL && !settings.DATABASE_URL) {
    throw new ConfigError('REDIS_URL: needs DATABASE_URL as well (Redis holds only short-lived state; durable data lives in Postgres)');
  }
  if (settings.VIGIL_ADMIN_PASSWORD && !settings.VIGIL_ADMIN_EMAIL) {
    throw new ConfigError('VIGIL_ADMIN_PASSWORD: given without VIGIL_ADMIN_EMAIL');
  }
  if (settings.VIGIL_SMTP_URL && !settings.VIGIL_MAIL_FROM) {
    throw new ConfigError('VIGIL_MAIL_FROM: required with VIGIL_SMTP_URL (the address Vigil\'s mail comes from)');
  }
  const issuer = settings.ISSUER ?? `http://localhost:${settings.PORT}`;
  if (settings.NODE_ENV === 'production' && issuer.startsWith('http:') && !/^http:\/\/(localhost|127\.0\.0\.1)(:|$)/.test(issuer)) {
    throw new ConfigError('ISSUER: must use https in production');
  }
  const storageMode: StorageMode = settings.DATABASE_URL ? (settings.REDIS_URL ? 'postgres+redis' : 'postgres') : 'embedded';
  return { ...settings, ISSUER: issuer, storageMode, dataDir: resolve(cwd, settings.VIGIL_DATA_DIR) };
}
