/** What the console and the admin API show of each provider: its settings in brief, its last sign-in and last error. */
import type { FederationRegistry } from './registry.ts';
import type { FederationStore } from './store.ts';

export interface FederationProviderView {
  id: string;
  kind: string;
  displayName: string;
  domains: string[];
  button: boolean;
  provisioning: boolean;
  trustedAcr: boolean;
  lastSignInAt: string | null;
  lastError: string | null;
  lastErrorAt: string | null;
}

export async function providerOverview(registry: FederationRegistry, store: FederationStore): Promise<FederationProviderView[]> {
  const statuses = await store.statuses();
  const buttons = new Set(registry.buttons().map((b) => b.id));
  return registry.list().map(({ config }) => {
    const status = statuses.get(config.id);
    return {
      id: config.id, kind: config.kind, displayName: config.display_name, domains: config.domains, button: buttons.has(config.id),
      provisioning: config.provisioning.allowed, trustedAcr: config.trusted_acr !== undefined,
      lastSignInAt: status?.lastSignInAt?.toISOString() ?? null,
      lastError: status?.lastError ?? null,
      lastErrorAt: status?.lastErrorAt?.toISOString() ?? null,
    };
  });
}
