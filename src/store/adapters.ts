import type { Redis } from 'ioredis';
import type { Sql } from './sql.ts';
import { DeferredConsumes, GrantPrefetch, SqlAdapter, type RefreshTokenCompanionRead, type RefreshTokenPath } from './adapter-sql.ts';
import { RedisAdapter } from './adapter-redis.ts';
import type { PayloadCodec } from './payload-codec.ts';
import type { Adapter, DoubleConsumeHandler } from './adapter-types.ts';
import { CachedAdapter } from './cached-adapter.ts';
import { ResponseWrites, type SettledWrites } from './response-writes.ts';
import { asStoreOutage } from './outage.ts';
import { SessionPrefetch } from './session-prefetch.ts';

/** Short-lived, hot models: in Redis (with TTLs) when Redis is configured. */
export const REDIS_MODELS = new Set([
  'Session', 'Interaction', 'AuthorizationCode', 'AccessToken', 'ClientCredentials',
  'PushedAuthorizationRequest', 'ReplayDetection',
]);

export interface AdapterFactoryOptions {
  sql: Sql;
  redis?: Redis;
  codec: PayloadCodec;
  onDoubleConsume: DoubleConsumeHandler;
  /** How long an instance keeps client metadata it read (0: not at all). */
  clientCacheMs?: number;
  /**
   * The request being answered (oidc-provider's `Provider.ctx`): a refresh token's consume waits
   * for its successor's save in the same request, and both go in one statement; that statement
   * and the access token's save are waited for when the response is about to leave (`settle`);
   * a refresh token's session is read alongside the token.
   */
  currentRequest?: () => object | undefined;
}

export type AdapterFactory = ((name: string) => Adapter) & {
  for(name: string): Adapter;
  /** Drops this instance's copy of a client or a grant (another instance changed or revoked it). */
  forget(model: 'Client' | 'Grant', id: string): void;
  /** A read done in the same round trip as a refresh token's lookup (SQL store only). */
  readWithRefreshTokens(companion: RefreshTokenCompanionRead): void;
  /**
   * Waits for the token writes this request left to the moment before it answers; on a failure
   * the response must be that error, not the tokens. What a response does not hand out
   * (`delivered` false, or a write failed) is taken back (see ResponseWrites).
   */
  settle(request: object, delivered?: boolean): Promise<SettledWrites | undefined>;
  /** Work the request being answered must finish before its response leaves (false outside a request). */
  holdResponseFor(work: Promise<unknown>): boolean;
};

/** Models an instance keeps copies of for a few seconds (see CachedAdapter). */
const CACHED_MODELS = new Set(['Client', 'Grant']);

/** Client metadata an administrator sets to switch a client off (privileged: no registration can set it). */
export const CLIENT_DISABLED = 'vigil_disabled';

/** The adapter with some of its methods replaced (the others bound once: token lookups pass through here). */
function overriding(adapter: Adapter, overrides: Partial<Adapter>): Adapter {
  const bound = new Map<PropertyKey, unknown>();
  return new Proxy(adapter, {
    get(target, property) {
      if (Object.hasOwn(overrides, property)) return overrides[property as keyof Adapter];
      const value: unknown = Reflect.get(target, property, target);
      if (typeof value !== 'function') return value;
      let method = bound.get(property);
      if (!method) bound.set(property, method = value.bind(target));
      return method;
    },
  });
}

function withoutDisabledClients(clients: Adapter): Adapter {
  return overriding(clients, {
    find: async (id) => {
      const metadata = await clients.find(id);
      return metadata?.[CLIENT_DISABLED] === true ? undefined : metadata;
    },
  });
}

/** Access tokens handed out in a token response: stored while the response is prepared, waited for before it leaves. */
export const RESPONSE_TOKEN_MODELS = ['AccessToken', 'ClientCredentials'] as const;

function withDeferredSaves(tokens: Adapter, writes: ResponseWrites): Adapter {
  return overriding(tokens, {
    upsert: async (id, payload, expiresIn) => {
      const saved = tokens.upsert(id, payload, expiresIn);
      if (!writes.defer(saved, () => tokens.destroy(id))) await saved;
    },
  });
}

const ADAPTER_METHODS = [
  'upsert', 'find', 'findByUid', 'findByUserCode', 'consume', 'destroy', 'revokeByGrantId', 'destroyByAccountId', 'revokeByClientId', 'findByAccountId',
] as const satisfies readonly (keyof Adapter)[];

/** Redis's connection failures as StoreOutageErrors (the SQL layer turns Postgres's itself). */
function withRedisOutages(adapter: Adapter): Adapter {
  const overrides: Partial<Record<keyof Adapter, unknown>> = {};
  for (const method of ADAPTER_METHODS) {
    const call = (adapter[method] as (...args: unknown[]) => Promise<unknown>).bind(adapter);
    overrides[method] = (...args: unknown[]) => call(...args).catch((err: unknown) => { throw asStoreOutage(err, 'redis'); });
  }
  return overriding(adapter, overrides as Partial<Adapter>);
}

function withPrefetchedSessions(sessions: Adapter, prefetch: SessionPrefetch): Adapter {
  return overriding(sessions, {
    findByUid: (uid) => prefetch.take(uid) ?? sessions.findByUid(uid),
  });
}

/** The one place that decides where each oidc-provider model lives. Instances are cached per model. */
export function createAdapterFactory(options: AdapterFactoryOptions): AdapterFactory {
  const cache = new Map<string, Adapter>();
  // Refresh tokens and grants both live in SQL: a refresh reads them in one query.
  const refreshPath: RefreshTokenPath = { grants: new GrantPrefetch() };
  const stored = (name: string): Adapter => (options.redis && REDIS_MODELS.has(name)
    ? withRedisOutages(new RedisAdapter(name, options.redis, options.codec, options.onDoubleConsume))
    : new SqlAdapter(name, options.sql, options.codec, options.onDoubleConsume, refreshPath));
  const { currentRequest } = options;
  if (currentRequest) {
    refreshPath.consumes = new DeferredConsumes(currentRequest);
    refreshPath.writes = new ResponseWrites(currentRequest);
    let sessions: Adapter | undefined;
    refreshPath.sessions = new SessionPrefetch(currentRequest, (uid) => (sessions ??= stored('Session')).findByUid(uid));
  }
  const build = (name: string): Adapter => {
    let adapter = cache.get(name);
    if (!adapter) {
      adapter = stored(name);
      // Client metadata, and grants: every token of a grant is deleted with it, so a grant kept a
      // few seconds after another instance revoked it still finds no token to vouch for.
      if (CACHED_MODELS.has(name) && (options.clientCacheMs ?? 0) > 0) {
        const cached = new CachedAdapter(adapter, options.clientCacheMs!);
        if (name === 'Grant') refreshPath.grants.keptElsewhere((id) => cached.keeps(id));
        adapter = cached;
      }
      if (refreshPath.writes && (RESPONSE_TOKEN_MODELS as readonly string[]).includes(name)) adapter = withDeferredSaves(adapter, refreshPath.writes);
      if (refreshPath.sessions && name === 'Session') adapter = withPrefetchedSessions(adapter, refreshPath.sessions);
      cache.set(name, adapter);
    }
    return adapter;
  };
  let providerClients: Adapter | undefined;
  // oidc-provider calls `new adapter(name)`; a function returning an object satisfies that. It does
  // not see disabled clients (they cannot authenticate or get tokens); `for` still returns them.
  const factory = function adapterFactory(name: string) {
    if (name !== 'Client') return build(name);
    return providerClients ??= withoutDisabledClients(build(name));
  } as AdapterFactory;
  factory.for = build;
  factory.readWithRefreshTokens = (companion) => {
    refreshPath.companion = companion;
  };
  factory.settle = async (request, delivered) => refreshPath.writes?.settle(request, delivered);
  factory.holdResponseFor = (work) => refreshPath.writes?.defer(work) ?? false;
  factory.forget = (model, id) => {
    const adapter = cache.get(model);
    if (adapter instanceof CachedAdapter) adapter.forget(id);
  };
  return factory;
}
