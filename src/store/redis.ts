import { Redis } from 'ioredis';

/** How long a command may wait for its answer before it fails (a server that hangs, not one that is gone). */
const REDIS_COMMAND_TIMEOUT_MS = 2000;

/**
 * A Redis client that reports a dead server instead of retrying forever at start-up, and fails
 * fast while it is gone: a command is refused at once while the client has no connection (it is
 * not queued until one comes back), and one in flight when the connection drops fails with it.
 * The client reconnects in the background.
 */
export async function connectRedis(url: string, name = 'vigil'): Promise<Redis> {
  const redis = new Redis(url, {
    connectionName: name,
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    connectTimeout: 5000,
    commandTimeout: REDIS_COMMAND_TIMEOUT_MS,
    enableOfflineQueue: false,
    // Commands issued in the same turn of the event loop (concurrent requests) go out in one write.
    enableAutoPipelining: true,
    retryStrategy: (times) => Math.min(times * 200, 2000),
  });
  redis.on('error', () => {});
  try {
    await redis.connect();
    await redis.ping();
  } catch (err) {
    // Otherwise the client keeps reconnecting in the background and the process never exits.
    redis.disconnect();
    throw err;
  }
  return redis;
}
