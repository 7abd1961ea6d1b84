import { randomBytes } from 'node:crypto';
import { ConfigError, type Config } from '../config/index.ts';
import { AccountError, type AccountStore } from './accounts.ts';

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
  // Instances starting together on an empty database race to create it; the others keep the winner's.
  const createdByAnother = async () => (await accounts.findByEmail(email))?.roles.includes('admin') === true;
  if (await accounts.findByEmail(email)) {
    if (await createdByAnother()) return undefined;
    throw new ConfigError(`VIGIL_ADMIN_EMAIL: ${email} exists but has no admin role; grant it or choose another address`);
  }
  try {
    await accounts.create({ email, password, displayName: 'Administrator', roles: ['admin'] });
  } catch (err) {
    if (err instanceof AccountError && await createdByAnother()) return undefined;
    throw err;
  }
  return { email, generatedPassword };
}
