import type { Config } from '../config/index.ts';
import type { AdapterFactory } from '../store/index.ts';
import { ensureFirstPartyClient, type FirstPartyApp } from '../first-party/index.ts';

export const ACCOUNT_CLIENT_ID = 'vigil-account';

/** The account page: a first-party client of Vigil itself (password sign-in is enough to look). */
export const ACCOUNT_APP: FirstPartyApp = { clientId: ACCOUNT_CLIENT_ID, clientName: 'Your Vigil account', path: '/account', label: 'apps.account' };

export function ensureAccountClient(adapters: AdapterFactory, config: Config): Promise<void> {
  return ensureFirstPartyClient(adapters, config, ACCOUNT_APP);
}
