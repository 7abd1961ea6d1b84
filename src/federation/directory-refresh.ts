/**
 * At refresh, the directory a session was signed in through still has its say: a session begun
 * with an ldap provider's password is refreshed only while the entry exists and is not disabled
 * (re-checked every `recheck_seconds`, see ldap/refresh.ts). A refusal ends the session.
 */
import type { AuditEntry } from '../audit/index.ts';
import type { FederationRegistry } from './registry.ts';
import type { FederationStore } from './store.ts';
import { ldapRefreshCheck, LdapRechecks, LdapRefreshRefused, type LdapSettings } from './ldap/index.ts';

export interface DirectoryRefreshDeps {
  registry: () => FederationRegistry;
  store: Pick<FederationStore, 'sessionOrigin'>;
  audit: (entry: AuditEntry) => Promise<unknown>;
  /** Ends the session (and the grant, should it outlive it) the directory no longer vouches for. */
  end: (refused: { sessionUid: string; grantId?: string; accountId: string; clientId?: string; reason: string }) => Promise<void>;
  rechecks?: LdapRechecks;
}

export interface RefreshingToken {
  sessionUid?: string;
  grantId?: string;
  accountId: string;
  clientId?: string;
  ip?: string;
}

/** Resolves when the refresh may go on; throws an invalid_grant (LdapRefreshRefused) when the directory says no. */
export function directoryRefreshCheck(deps: DirectoryRefreshDeps): (token: RefreshingToken) => Promise<void> {
  const rechecks = deps.rechecks ?? new LdapRechecks();
  return async (token) => {
    const registry = deps.registry();
    // No directory configured: not even the session's origin is read.
    if (!token.sessionUid || !registry.list().some((p) => p.source.kind === 'ldap')) return;
    const origin = await deps.store.sessionOrigin(token.sessionUid);
    const source = origin && registry.passwordSource(origin.provider);
    if (!origin || !source) return;
    const settings = registry.provider(origin.provider)!.config as unknown as LdapSettings;
    try {
      await ldapRefreshCheck({ source, settings, link: { provider: origin.provider, subject: origin.subject }, signedInAt: origin.createdAt.getTime(), rechecks });
    } catch (err) {
      if (!(err instanceof LdapRefreshRefused)) throw err;
      await deps.audit({
        actor: token.accountId, action: 'federation.refresh', subject: token.clientId, ip: token.ip, outcome: 'denied',
        details: { provider: origin.provider, reason: err.reason, session: token.sessionUid },
      });
      if (err.reason === 'inactive') {
        await deps.end({
          sessionUid: token.sessionUid, accountId: token.accountId, reason: `directory: the account is disabled or gone (${origin.provider})`,
          ...(token.grantId ? { grantId: token.grantId } : {}), ...(token.clientId ? { clientId: token.clientId } : {}),
        });
      }
      throw err;
    }
  };
}
