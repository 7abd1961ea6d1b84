import type { KoaContextWithOIDC } from 'oidc-provider';
import type { PopulationStats } from '../risk/index.ts';
import { RequestSlot, type RefreshTokenCompanionRead } from '../store/index.ts';
import { loadedState, riskStateColumns, type LoadedState, type LoadRow } from './risk-store.ts';
import { endUserOf } from './end-user.ts';

/**
 * The risk engine's read for a refresh, done in the same round trip as the refresh token's lookup
 * (the token row names the account, grant, session and DPoP key; the request names the address).
 * The hook that assesses the refresh takes it; whatever it cannot take, it reads on its own.
 */
export class RiskReadAhead implements RefreshTokenCompanionRead {
  readonly columns = riskStateColumns({
    accountId: 't.account_id', ip: 'r.input', grantId: 't.grant_id', jkt: "t.payload->>'jkt'", sessionUid: "t.payload->>'sessionUid'",
  });

  readonly #read: RequestSlot<{ ip: string; accountId: unknown; grantId: unknown; row: LoadRow }>;
  readonly #currentRequest: () => KoaContextWithOIDC | undefined;

  constructor(currentRequest: () => KoaContextWithOIDC | undefined) {
    this.#currentRequest = currentRequest;
    this.#read = new RequestSlot(currentRequest);
  }

  input(): string | undefined {
    const ctx = this.#currentRequest();
    if (!ctx?.oidc?.client || ctx.oidc.route !== 'token' || ctx.oidc.params?.grant_type !== 'refresh_token') return undefined;
    // A DPoP proof's key may name a registered device the token does not: the hook reads with it.
    if (ctx.get('dpop')) return undefined;
    try {
      return endUserOf(ctx).ip;
    } catch {
      return undefined; // a malformed forwarded address: the hook refuses the request itself
    }
  }

  deliver(row: Record<string, unknown>, ip: string): void {
    const payload = row.payload as { accountId?: unknown } | null;
    this.#read.put({ ip, accountId: payload?.accountId, grantId: row.grant_id, row: row as unknown as LoadRow });
  }

  /** The state read with this request's refresh token, once, when it was read for this account, grant and address. */
  take(ctx: KoaContextWithOIDC, q: { accountId: string; grantId: string; ip: string }, population: PopulationStats): LoadedState | undefined {
    const read = this.#read.take(ctx);
    if (!read) return undefined;
    if (read.ip !== q.ip || read.accountId !== q.accountId || read.grantId !== q.grantId) return undefined;
    return loadedState(read.row, population);
  }
}
