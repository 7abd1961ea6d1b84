import type { Redis } from 'ioredis';
import type { Sql } from './sql.ts';
import { DeferredConsumes, GrantPrefetch, SqlAdapter, type RefreshTokenCompanionRead, type RefreshTokenPath } from './adapter-sql.ts';
import { RedisAdapter } from './adapter-redis.ts';
import type { PayloadCodec } from './payload-codec.ts';
import type { Adapter, DoubleConsumeHandler } from './adapter-types.ts';
import { CachedAdapter } from './cached-adapter.ts';

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
   * for its successor's save in the same request, and both go in one statement.
   */
  currentRequest?: () => object | undefined;
}

export type AdapterFactory = ((name: string) => Adapter) & {
  for(name: string): Adapter;
  /** Drops this instance's copy of a client or a grant (another instance changed or revoked it). */
  forget(model: 'Client' | 'Grant', id: string): void;
  /** A read done in the same round trip as a refresh token's lookup (SQL store only). */
  readWithRefreshTokens(companion: RefreshTokenCompanionRead): void;
};

/** Models an instance keeps copies of for a few seconds (see CachedAdapter). */
const CACHED_MODELS = new Set(['Client', 'Grant']);

/** Client metadata an administrator sets to switch a client off (privileged: no registration can set it). */
export const CLIENT_DISABLED = 'vigil_disabled';

function withoutDisabledClients(clients: Adapter): Adapter {
  const find = async (id: string) => {
    const metadata = await clients.find(id);
    return metadata?.[CLIENT_DISABLED] === true ? undefined : metadata;
  };
  return new Proxy(clients, {
    get(target, property) {
      if (property === 'find') return find;
      const value: unknown = Reflect.get(target, property, target);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}

/** The one place that decides where each oidc-provider model lives. Instances are cached per model. */
export function createAdapterFactory(options: AdapterFactoryOptions): AdapterFactory {
  const cache = new Map<string, Adapter>();
  // Refresh tokens and grants both live in SQL: a refresh reads them in one query.
  const refreshPath: RefreshTokenPath = {
    grants: new GrantPrefetch(),
    ...(options.currentRequest ? { consumes: new DeferredConsumes(options.currentRequest) } : {}),
  };
  const build = (name: string): Adapter => {
    let adapter = cache.get(name);
    if (!adapter) {
      adapter = options.redis && REDIS_MODELS.has(name)
        ? new RedisAdapter(name, options.redis, options.codec, options.onDoubleConsume)
        : new SqlAdapter(name, options.sql, options.codec, options.onDoubleConsume, refreshPath);
      // Client metadata, and grants: every token of a grant is deleted with it, so a grant kept a
      // few seconds after another instance revoked it still finds no token to vouch for.
      if (CACHED_MODELS.has(name) && (options.clientCacheMs ?? 0) > 0) adapter = new CachedAdapter(adapter, options.clientCacheMs!);
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
  factory.forget = (model, id) => {
    const adapter = cache.get(model);
    if (adapter instanceof CachedAdapter) adapter.forget(id);
  };
  return factory;
}
