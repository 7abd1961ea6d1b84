import type { Config } from '../config/index.ts';
import { ACR } from '../config/index.ts';
import type { AdapterFactory } from '../store/index.ts';
import { ensureFirstPartyClient, type FirstPartyApp } from '../first-party/index.ts';

export const ADMIN_CONSOLE_CLIENT_ID = 'vigil-admin';

/**
 * The admin console signs in through Vigil like any relying party; its client demands a
 * phishing-resistant sign-in (a passkey), so /auth itself refuses anything less.
 */
export const ADMIN_CONSOLE_APP: FirstPartyApp = {
  clientId: ADMIN_CONSOLE_CLIENT_ID, clientName: 'Vigil admin console', path: '/admin', label: 'apps.adminConsole', acr: ACR.phishingResistant,
};

export function ensureAdminConsoleClient(adapters: AdapterFactory, config: Config): Promise<void> {
  return ensureFirstPartyClient(adapters, config, ADMIN_CONSOLE_APP);
}
