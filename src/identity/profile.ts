/**
 * Changing an account's email or name (claims of its ID tokens and userinfo), for the admin API
 * and console: a change that changes something is told to the Shared Signals streams as a CAEP
 * token-claims-change, as a roles change is.
 */
import { tokenClaimsChange, type Initiator, type SecurityEventSink } from '../ssf/events.ts';
import type { Account, AccountStore } from './accounts.ts';

export interface ProfileChange {
  account: Account;
  /** The claims that changed, with their values before. */
  previous: { email?: string; name?: string };
}

export async function changeProfile(
  deps: { accounts: AccountStore; securityEvents: SecurityEventSink }, accountId: string, change: { email?: string; displayName?: string },
  initiator: Initiator, reason?: string,
): Promise<ProfileChange | undefined> {
  const done = await deps.accounts.updateProfile(accountId, change);
  if (!done) return undefined;
  const previous: ProfileChange['previous'] = {};
  const claims: Record<string, string> = {};
  if (done.previous.email !== done.account.email) {
    previous.email = done.previous.email;
    claims.email = done.account.email;
  }
  if (done.previous.displayName !== done.account.displayName) {
    previous.name = done.previous.displayName;
    claims.name = done.account.displayName;
  }
  if (Object.keys(claims).length) await deps.securityEvents.emit([tokenClaimsChange(accountId, claims, initiator, reason)]);
  return { account: done.account, previous };
}
