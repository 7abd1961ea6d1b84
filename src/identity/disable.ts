/**
 * Disabling an account, for the CLI, the admin API and SCIM alike: the account is disabled, every
 * session, grant and token it holds ends on every instance (the revocations' own path, which also
 * sends CAEP session-revoked), and the streams following the person get a RISC account-disabled.
 */
import { accountDisabled, type Initiator, type SecurityEventSink } from '../ssf/events.ts';
import type { Account, AccountStore } from './accounts.ts';

export interface DisableCause {
  initiator: Initiator;
  /** Who: an account id, a client id, `cli`… */
  actor: string;
  reason: string;
  ip?: string;
}

/** What ends everything an account holds (sessions/Revocations.account). */
export interface AccountRevoker {
  account(accountId: string, cause: DisableCause): Promise<{ sessions: readonly unknown[]; grants: readonly unknown[] }>;
}

export async function disableAccount(
  deps: { accounts: AccountStore; revocations: AccountRevoker; securityEvents: SecurityEventSink }, email: string, cause: DisableCause,
): Promise<{ account: Account; sessions: number; grants: number } | undefined> {
  const account = await deps.accounts.setDisabled(email, true);
  if (!account) return undefined;
  const ended = await deps.revocations.account(account.id, cause);
  await deps.securityEvents.emit([accountDisabled(account.id, cause.initiator, cause.reason)]);
  return { account, sessions: ended.sessions.length, grants: ended.grants.length };
}
