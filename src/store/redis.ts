import { Redis } from 'ioredis';

/** A Redis client that reports a dead server instead of retrying forever at start-up. */
export async function connectRedis(url: string, name = 'vigil'): Promise<Redis> {
  const redis = new Redis(url, {
    connectionName: name,
    lazyConnect: true,
    maxRetriesPerRequest: 2,
    connectTimeout: 5000,
    enableOfflineQueue: true,
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
