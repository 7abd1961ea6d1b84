import { randomBytes } from 'node:crypto';
import type { Config } from '../config/index.ts';
import type { AccountStore } from './accounts.ts';

export interface BootstrapResult {
  email: string;
  /** Only when Vigil chose the password itself; shown once, never logged. */
  generatedPassword?: string;
}

/** First start with no administrator: create one from settings, or with a random password. */
export async function ensureAdministrator(accounts: AccountStore, config: Config): Promise<BootstrapResult | undefined> {
  if (await accounts.hasRole('admin')) return undefined;
  const email = config.VIGIL_ADMIN_EMAIL ?? 'admin@localhost.localdomain';
  const generatedPassword = config.VIGIL_ADMIN_PASSWORD ? undefined : randomBytes(18).toString('base64url');
  const password = config.VIGIL_ADMIN_PASSWORD ?? generatedPassword!;
  if (await accounts.findByEmail(email)) {
    throw new Error(`VIGIL_ADMIN_EMAIL: ${email} exists but has no admin role; grant it or choose another address`);
  }
  await accounts.create({ email, password, displayName: 'Administrator', roles: ['admin'] });
  return { email, generatedPassword };
}
