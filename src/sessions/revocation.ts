/**
 * The one place that revokes: a session, a grant, every session and grant of an account, every
 * token of a client. The risk engine, the admin API and console, a credential change and
 * `vigil user disable` all call it. The stores are changed first (they are the truth every
 * instance reads), then the relying parties of each ended session are queued a back-channel
 * logout, the revocation is audited, and the bus tells every instance.
 */
import type { AdapterFactory, Payload } from '../store/index.ts';
import type { AuditLog } from '../audit/index.ts';
import type { Logger } from '../observability/index.ts';
import type { RevocationBus, RevocationEvent, RevocationInitiator, RevocationKind, RevocationListener } from './bus.ts';

/** Every oidc-provider model that can belong to a grant. */
const GRANT_BOUND_MODELS = ['AccessToken', 'AuthorizationCode', 'RefreshToken', 'DeviceCode', 'BackchannelAuthenticationRequest'];
/** Every model a client's tokens live in (grant-bound or not). */
const CLIENT_TOKEN_MODELS = [...GRANT_BOUND_MODELS, 'ClientCredentials'];

export interface RevocationCause {
  initiator: RevocationInitiator;
  /** Who: an account id, a client id, `cli`, `risk-engine`… */
  actor: string;
  reason: string;
  /** Where the request came from, for the audit trail. */
  ip?: string;
}

/** A relying party signed in through an ended session: it is owed a back-channel logout token. */
export interface LogoutNotice {
  clientId: string;
  accountId: string;
  sid: string;
  sessionUid: string;
}

export interface LogoutQueue {
  enqueue(notices: LogoutNotice[]): Promise<void>;
}

/** What a revocation ended, beyond the bus event: each relying party's sign-in through the ended sessions. */
export interface RevocationScope {
  /** Per client signed in through an ended session: the session's `sid` as that client knows it (its ID tokens'). */
  signedOut: LogoutNotice[];
  /** Clients whose grants ended outside the ended sessions (grants that outlive a browser session). */
  grantClients?: string[];
  /** Every session the person had ended (an account revocation that kept none). */
  everySession: boolean;
}

/** Told of every revocation in its own path (a durable outbox of security events, CAEP session-revoked). */
export interface RevocationSink {
  revoked(event: RevocationEvent, scope: RevocationScope): Promise<void>;
}

export interface RevocationDeps {
  adapters: AdapterFactory;
  bus: RevocationBus;
  audit: AuditLog;
  logger: Logger;
  logouts?: LogoutQueue;
  securityEvents?: RevocationSink;
  /** Records kept about grants and sessions elsewhere (risk bindings, activity) that end with them. */
  forgetGrants?: (grantIds: string[]) => Promise<void>;
  forgetSessions?: (sessionUids: string[]) => Promise<void>;
  forgetClient?: (clientId: string) => Promise<void>;
}

interface SessionPayload {
  jti?: string;
  uid?: string;
  accountId?: string;
  authorizations?: Record<string, { grantId?: string; sid?: string }>;
}

/** What one revocation ended (the bus event, without who and why). */
interface Ended {
  accountId?: string;
  sessions: string[];
  grants: string[];
  clients: string[];
}

/** What the security events are told on top (not carried on the bus). */
type EndedSignIns = RevocationScope;

export class Revocations {
  readonly #deps: RevocationDeps;

  constructor(deps: RevocationDeps) {
    this.#deps = deps;
  }

  get bus(): RevocationBus {
    return this.#deps.bus;
  }

  /** Events of every instance (this one's included). */
  subscribe(listener: RevocationListener): () => void {
    return this.#deps.bus.subscribe(listener);
  }

  /** Ends one session: its grants and their tokens, and the session; undefined when there was none. */
  async session(sessionUid: string, cause: RevocationCause): Promise<RevocationEvent | undefined> {
    const session = await this.#deps.adapters.for('Session').findByUid(sessionUid) as SessionPayload | undefined;
    if (!session?.jti) return undefined;
    const { notices, ...ended } = await this.#endSessions([session]);
    // The person's last session: their sign-in is over everywhere, not only in this session's apps.
    const remaining = session.accountId ? await this.#deps.adapters.for('Session').findByAccountId(session.accountId) : [];
    return this.#announce('session', sessionUid, ended, cause, { signedOut: notices, everySession: remaining.length === 0 });
  }

  /** Revokes a grant and every token issued under it; the event names the grant only if it was still there. */
  async grant(grantId: string, cause: RevocationCause, context: { accountId?: string; clientId?: string } = {}): Promise<RevocationEvent> {
    const held = await this.#deps.adapters.for('Grant').find(grantId);
    await this.#revokeGrants([grantId]);
    return this.#announce('grant', grantId, {
      ...(context.accountId ? { accountId: context.accountId } : {}), sessions: [], grants: held ? [grantId] : [], clients: context.clientId ? [context.clientId] : [],
    }, cause);
  }

  /**
   * oidc-provider revoked a grant itself (a client's RFC 7009 revocation, a logout): the stores
   * already hold it, and it is the client's own act (not audited, no security event). Only the
   * other instances are told, so that none keeps answering from a copy of the grant.
   */
  async providerRevokedGrant(grantId: string, clientId: string | undefined, reason: string): Promise<void> {
    const { bus, logger } = this.#deps;
    const event: RevocationEvent = {
      kind: 'grant', target: grantId, sessions: [], grants: [grantId], clients: [], initiator: 'user', actor: clientId ?? 'unknown', reason, at: Date.now(), origin: bus.instance,
    };
    await bus.publish(event).catch((err) => logger.warn({ err, kind: 'grant', target: grantId }, 'revocation bus: could not publish (the stores still hold the revocation)'));
  }

  /**
   * Something the token path reads about the account changed without anything ending (an
   * elevation began or ended): every instance drops what it keeps of the account at once.
   */
  async accountChanged(accountId: string, actor: string, reason: string): Promise<void> {
    const { bus, logger } = this.#deps;
    const event: RevocationEvent = {
      kind: 'account', target: accountId, accountId, sessions: [], grants: [], clients: [], initiator: 'system', actor, reason, at: Date.now(), origin: bus.instance,
    };
    await bus.publish(event).catch((err) => logger.warn({ err, kind: 'account', target: accountId }, 'revocation bus: could not publish an account change'));
  }

  /** Everything the account holds: every session (but `keepSessionUid`, the one making a credential change) and every grant. */
  async account(accountId: string, cause: RevocationCause, options: { keepSessionUid?: string } = {}): Promise<RevocationEvent> {
    const sessions = await this.#deps.adapters.for('Session').findByAccountId(accountId) as SessionPayload[];
    return this.#endAccount(accountId, sessions, undefined, cause, options);
  }

  /**
   * As `account`, but only when the account holds a session or a grant: undefined (nothing ended,
   * nothing announced) when it holds neither. A security event received about an account that has
   * nothing left stops here, so two systems that revoke on each other's events do not echo forever.
   */
  async accountIfHeld(accountId: string, cause: RevocationCause): Promise<RevocationEvent | undefined> {
    const adapters = this.#deps.adapters;
    const sessions = await adapters.for('Session').findByAccountId(accountId) as SessionPayload[];
    // With no session, nothing ends before the grants are read: they are read once, for this check and the revocation.
    const grants = sessions.length === 0 ? await adapters.for('Grant').findByAccountId(accountId) : undefined;
    if (grants?.length === 0) return undefined;
    return this.#endAccount(accountId, sessions, grants, cause, {});
  }

  /** Ends the account's sessions as read, then its grants (`heldGrants`, or read now) but those of the kept session. */
  async #endAccount(
    accountId: string, held: SessionPayload[], heldGrants: Payload[] | undefined, cause: RevocationCause, options: { keepSessionUid?: string },
  ): Promise<RevocationEvent> {
    const adapters = this.#deps.adapters;
    const sessions = held.filter((s) => s.jti && s.uid !== options.keepSessionUid);
    const { notices, ...ended } = await this.#endSessions(sessions);
    const kept = options.keepSessionUid
      ? await adapters.for('Session').findByUid(options.keepSessionUid) as SessionPayload | undefined
      : undefined;
    const keptGrants = new Set(Object.values(kept?.authorizations ?? {}).map((a) => a.grantId));
    const endedAlone = (heldGrants ?? await adapters.for('Grant').findByAccountId(accountId))
      .filter((g) => typeof g.jti === 'string' && !keptGrants.has(g.jti) && !ended.grants.includes(g.jti));
    const grants = endedAlone.map((g) => g.jti as string);
    await this.#revokeGrants(grants);
    for (const g of grants) ended.grants.push(g);
    const grantClients = [...new Set(endedAlone.map((g) => g.clientId).filter((c): c is string => typeof c === 'string'))];
    return this.#announce('account', accountId, { ...ended, accountId }, cause, { signedOut: notices, grantClients, everySession: !options.keepSessionUid });
  }

  /** Every token of a client, in every store, and every grant it holds. */
  async client(clientId: string, cause: RevocationCause): Promise<RevocationEvent> {
    const adapters = this.#deps.adapters;
    const removed = await Promise.all([
      ...CLIENT_TOKEN_MODELS.map((model) => adapters.for(model).revokeByClientId(clientId)),
      adapters.for('Grant').revokeByClientId(clientId),
    ]);
    await this.#deps.forgetClient?.(clientId);
    // Its tokens and grants are not listed one by one; how many ended tells the trail whether anything did.
    return this.#announce('client', clientId, { sessions: [], grants: [], clients: [clientId] }, cause, undefined, { tokens: removed.reduce((n, x) => n + x, 0) });
  }

  async #revokeGrants(grantIds: string[]): Promise<void> {
    const adapters = this.#deps.adapters;
    await Promise.all(grantIds.flatMap((grantId) => [
      ...GRANT_BOUND_MODELS.map((model) => adapters.for(model).revokeByGrantId(grantId)),
      adapters.for('Grant').destroy(grantId),
    ]));
    if (grantIds.length) await this.#deps.forgetGrants?.(grantIds);
  }

  async #endSessions(sessions: SessionPayload[]): Promise<Ended & { notices: LogoutNotice[] }> {
    const notices: LogoutNotice[] = [];
    const grants: string[] = [];
    const clients = new Set<string>();
    for (const session of sessions) {
      for (const [clientId, authorization] of Object.entries(session.authorizations ?? {})) {
        clients.add(clientId);
        if (authorization.grantId) grants.push(authorization.grantId);
        if (authorization.sid && session.accountId && session.uid) {
          notices.push({ clientId, accountId: session.accountId, sid: authorization.sid, sessionUid: session.uid });
        }
      }
    }
    await this.#revokeGrants(grants);
    await Promise.all(sessions.map((s) => this.#deps.adapters.for('Session').destroy(s.jti!)));
    const uids = sessions.map((s) => s.uid).filter((u): u is string => !!u);
    if (uids.length) await this.#deps.forgetSessions?.(uids);
    // A relying party that is slow or down never holds the revocation up: the queue delivers later.
    if (notices.length && this.#deps.logouts) {
      await this.#deps.logouts.enqueue(notices).catch((err) => this.#deps.logger.error({ err }, 'could not queue back-channel logouts'));
    }
    return { ...(sessions[0]?.accountId ? { accountId: sessions[0].accountId } : {}), sessions: uids, grants, clients: [...clients], notices };
  }

  async #announce(
    kind: RevocationKind, target: string, ended: Ended, cause: RevocationCause,
    signIns: EndedSignIns = { signedOut: [], everySession: false }, counted: { tokens?: number } = {},
  ): Promise<RevocationEvent> {
    const { bus, audit, logger } = this.#deps;
    const event: RevocationEvent = {
      kind, target, ...ended, initiator: cause.initiator, actor: cause.actor, reason: cause.reason, at: Date.now(), origin: bus.instance,
    };
    // Written before the answer, like the logouts: a receiver that is down gets it later from the outbox.
    await this.#deps.securityEvents?.revoked(event, signIns).catch((err) => logger.error({ err }, 'could not queue security events for a revocation'));
    await audit.append({
      actor: cause.actor, action: `revocation.${kind}`, subject: target, ...(cause.ip ? { ip: cause.ip } : {}), outcome: 'success',
      details: { initiator: cause.initiator, reason: cause.reason, account: ended.accountId ?? null, sessions: ended.sessions, grants: ended.grants, clients: ended.clients, ...counted },
    });
    // The stores already refuse the tokens; a bus that is down only delays what the other instances drop or show.
    await bus.publish(event).catch((err) => logger.warn({ err, kind, target }, 'revocation bus: could not publish (the stores still hold the revocation)'));
    return event;
  }
}
