/**
 * The revocation bus: how every Vigil instance learns at once that a session, grant, account or
 * client was revoked (to drop what it caches and to update the admin consoles it serves). Redis
 * pub/sub when Redis is configured, Postgres LISTEN/NOTIFY when only Postgres, in-process when
 * embedded. It is a notification, never the truth: the stores are, so an instance that missed a
 * message still refuses the revoked tokens.
 */
import { EventEmitter } from 'node:events';
import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import type { Redis } from 'ioredis';
import type { Logger } from '../observability/index.ts';
import type { PostgresSql, Stores } from '../store/index.ts';

export type RevocationInitiator = 'admin' | 'policy' | 'user' | 'system';
export type RevocationKind = 'session' | 'grant' | 'account' | 'client';

/** What was revoked, why, and by whom; what the bus carries. */
export interface RevocationEvent {
  kind: RevocationKind;
  /** The session uid, grant id, account id or client id named by the revocation. */
  target: string;
  accountId?: string;
  sessions: string[];
  grants: string[];
  clients: string[];
  initiator: RevocationInitiator;
  actor: string;
  reason: string;
  /** Epoch ms. */
  at: number;
  /** The instance that revoked. */
  origin: string;
}

export type RevocationListener = (event: RevocationEvent) => void;

export interface RevocationBus {
  readonly name: 'redis' | 'postgres' | 'local';
  /** This instance's id, carried as the events' origin. */
  readonly instance: string;
  publish(event: RevocationEvent): Promise<void>;
  /** Every event, this instance's own included; returns the unsubscribe. */
  subscribe(listener: RevocationListener): () => void;
  close(): Promise<void>;
}

export const REVOCATION_CHANNEL = 'vigil_revocations';
/** NOTIFY payloads stop at 8000 bytes: long id lists are cut (the stores hold the whole truth). */
const MAX_IDS = 50;

function trimmed(event: RevocationEvent): RevocationEvent {
  return { ...event, sessions: event.sessions.slice(0, MAX_IDS), grants: event.grants.slice(0, MAX_IDS), clients: event.clients.slice(0, MAX_IDS), reason: event.reason.slice(0, 500) };
}

function parseEvent(text: string): RevocationEvent | undefined {
  try {
    const value = JSON.parse(text) as RevocationEvent;
    return value && typeof value.kind === 'string' && typeof value.target === 'string' ? value : undefined;
  } catch {
    return undefined;
  }
}

/** Listeners and delivery shared by every bus. */
abstract class BaseBus implements RevocationBus {
  abstract readonly name: RevocationBus['name'];
  readonly instance = randomUUID();
  protected readonly logger: Logger;
  readonly #listeners = new EventEmitter().setMaxListeners(0);

  constructor(logger: Logger) {
    this.logger = logger;
  }

  abstract publish(event: RevocationEvent): Promise<void>;
  abstract close(): Promise<void>;

  subscribe(listener: RevocationListener): () => void {
    this.#listeners.on('event', listener);
    return () => this.#listeners.off('event', listener);
  }

  protected deliver(event: RevocationEvent): void {
    for (const listener of this.#listeners.listeners('event') as RevocationListener[]) {
      try {
        listener(event);
      } catch (err) {
        this.logger.error({ err }, 'a revocation listener failed');
      }
    }
  }

  protected received(text: string): void {
    const event = parseEvent(text);
    if (event) this.deliver(event);
    else this.logger.warn('ignored a malformed message on the revocation bus');
  }
}

/** One process (embedded PGlite): nobody else to tell. */
export class LocalBus extends BaseBus {
  readonly name = 'local' as const;

  async publish(event: RevocationEvent): Promise<void> {
    this.deliver(event);
  }

  async close(): Promise<void> {}
}

/**
 * Redis channels belong to the whole server, not to one of its databases: the channel is named
 * after the issuer, so deployments sharing a Redis server do not hear each other.
 */
export class RedisBus extends BaseBus {
  readonly name = 'redis' as const;
  readonly #publisher: Redis;
  readonly #subscriber: Redis;
  readonly #channel: string;

  private constructor(publisher: Redis, subscriber: Redis, channel: string, logger: Logger) {
    super(logger);
    this.#publisher = publisher;
    this.#subscriber = subscriber;
    this.#channel = channel;
    subscriber.on('message', (from: string, text: string) => { if (from === channel) this.received(text); });
  }

  static async open(redis: Redis, issuer: string, logger: Logger): Promise<RedisBus> {
    const channel = `${REVOCATION_CHANNEL}:${issuer}`;
    // A connection in subscriber mode can do nothing else: it gets its own.
    const subscriber = redis.duplicate({ connectionName: 'vigil-revocations', lazyConnect: true });
    subscriber.on('error', () => {});
    await subscriber.connect();
    await subscriber.subscribe(channel);
    return new RedisBus(redis, subscriber, channel, logger);
  }

  async publish(event: RevocationEvent): Promise<void> {
    await this.#publisher.publish(this.#channel, JSON.stringify(trimmed(event)));
  }

  async close(): Promise<void> {
    this.#subscriber.disconnect();
  }
}

/** LISTEN on a connection of its own, taken again after it drops. */
export class PostgresBus extends BaseBus {
  readonly name = 'postgres' as const;
  readonly #sql: PostgresSql;
  #listener: pg.PoolClient | undefined;
  #closed = false;
  #retry: NodeJS.Timeout | undefined;

  private constructor(sql: PostgresSql, logger: Logger) {
    super(logger);
    this.#sql = sql;
  }

  static async open(sql: PostgresSql, logger: Logger): Promise<PostgresBus> {
    const bus = new PostgresBus(sql, logger);
    await bus.#listen();
    return bus;
  }

  async #listen(): Promise<void> {
    const client = await this.#sql.pool.connect();
    const lost = (err?: Error) => {
      if (this.#listener !== client) return;
      this.#listener = undefined;
      client.release(err ?? true);
      if (this.#closed) return;
      this.logger.warn({ err }, 'revocation bus: lost the LISTEN connection; listening again shortly');
      this.#retry = setTimeout(() => this.#listen().catch((e) => lost(e)), 1000);
      this.#retry.unref();
    };
    client.on('notification', (msg) => { if (msg.channel === REVOCATION_CHANNEL && msg.payload) this.received(msg.payload); });
    client.on('error', lost);
    client.on('end', () => lost());
    this.#listener = client;
    await client.query(`LISTEN ${REVOCATION_CHANNEL}`);
  }

  async publish(event: RevocationEvent): Promise<void> {
    await this.#sql.query('SELECT pg_notify($1, $2)', [REVOCATION_CHANNEL, JSON.stringify(trimmed(event))]);
  }

  async close(): Promise<void> {
    this.#closed = true;
    if (this.#retry) clearTimeout(this.#retry);
    const client = this.#listener;
    this.#listener = undefined;
    if (client) {
      await client.query(`UNLISTEN ${REVOCATION_CHANNEL}`).catch(() => {});
      client.release();
    }
  }
}

/** Redis when configured, else Postgres, else (embedded) this process alone. */
export async function openRevocationBus(stores: Stores, issuer: string, logger: Logger): Promise<RevocationBus> {
  if (stores.redis) return RedisBus.open(stores.redis, issuer, logger);
  if (stores.sql.kind === 'postgres') return PostgresBus.open(stores.sql as PostgresSql, logger);
  return new LocalBus(logger);
}
