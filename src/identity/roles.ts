/**
 * Changing an account's roles (the `roles` claim of its tokens), for the CLI and the admin API
 * alike: a change that changes something is told to the Shared Signals streams as a CAEP
 * token-claims-change.
 */
import { tokenClaimsChange, type Initiator, type SecurityEventSink } from '../ssf/events.ts';
import type { Account, AccountStore } from './accounts.ts';

export interface RolesChange {
  account: Account;
  previous: string[];
  changed: boolean;
}

export async function changeRoles(
  deps: { accounts: AccountStore; securityEvents: SecurityEventSink }, accountId: string, roles: readonly string[], initiator: Initiator, reason?: string,
): Promise<RolesChange | undefined> {
  const done = await deps.accounts.setRoles(accountId, roles);
  if (!done) return undefined;
  const changed = [...done.previous].sort().join(' ') !== done.account.roles.join(' ');
  if (changed) await deps.securityEvents.emit([tokenClaimsChange(accountId, { roles: done.account.roles }, initiator, reason)]);
  return { ...done, changed };
}
