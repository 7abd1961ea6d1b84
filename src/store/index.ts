export { PostgresSql, PgliteSql, type Sql, type Queryable, type QueryResult } from './sql.ts';
export { migrate, MIGRATIONS_DIR, type MigrationResult } from './migrate.ts';
export { openStores, storesReady, StoreUnavailableError, type Stores } from './open.ts';
export { connectRedis } from './redis.ts';
export { createAdapterFactory, REDIS_MODELS, type AdapterFactory } from './adapters.ts';
export { SqlAdapter, purgeExpired } from './adapter-sql.ts';
export { RedisAdapter } from './adapter-redis.ts';
export { PayloadCodec, CONSUMABLE_MODELS, type Payload } from './payload-codec.ts';
export type { Adapter, DoubleConsumeHandler } from './adapter-types.ts';
