import type { AdapterFactory } from '../store/index.ts';

/** Every oidc-provider model that can belong to a grant. */
const GRANT_BOUND_MODELS = ['AccessToken', 'AuthorizationCode', 'RefreshToken', 'DeviceCode', 'BackchannelAuthenticationRequest'];

/** Revokes a grant and every token issued under it, in whichever store each lives. */
export async function revokeGrant(adapters: AdapterFactory, grantId: string): Promise<void> {
  await Promise.all([
    ...GRANT_BOUND_MODELS.map((model) => adapters.for(model).revokeByGrantId(grantId)),
    adapters.for('Grant').destroy(grantId),
  ]);
}

/**
 * Revokes everything an account holds: every grant (with its tokens) and every session.
 */
export async function revokeAccount(adapters: AdapterFactory, accountId: string): Promise<{ grants: number }> {
  const grantIds = (await adapters.for('Grant').findByAccountId(accountId)).map((g) => g.jti!).filter(Boolean);
  await Promise.all(grantIds.map((id) => revokeGrant(adapters, id)));
  await adapters.for('Session').destroyByAccountId(accountId);
  return { grants: grantIds.length };
}

interface SessionPayload {
  jti?: string;
  uid?: string;
  accountId?: string;
  authorizations?: Record<string, { grantId?: string }>;
}

/** Ends one session: its grants (and their tokens) are revoked and the session is gone. */
export async function revokeSession(adapters: AdapterFactory, sessionUid: string): Promise<boolean> {
  const sessions = adapters.for('Session');
  const session = await sessions.findByUid(sessionUid) as SessionPayload | undefined;
  if (!session?.jti) return false;
  const grantIds = Object.values(session.authorizations ?? {}).map((a) => a.grantId).filter((g): g is string => !!g);
  await Promise.all(grantIds.map((id) => revokeGrant(adapters, id)));
  await sessions.destroy(session.jti);
  return true;
}

/** Ends every session of an account but one (the one making a credential change). */
export async function revokeOtherSessions(adapters: AdapterFactory, accountId: string, keepSessionUid: string | undefined): Promise<number> {
  const sessions = await adapters.for('Session').findByAccountId(accountId) as SessionPayload[];
  const others = sessions.filter((s) => s.uid && s.uid !== keepSessionUid);
  await Promise.all(others.map((s) => revokeSession(adapters, s.uid!)));
  return others.length;
}
