import type { Redis } from 'ioredis';
import type { Payload, PayloadCodec } from './payload-codec.ts';
import type { Adapter, DoubleConsumeHandler } from './adapter-types.ts';

const PREFIX = 'vigil:oidc:';

// Consumption lives in a sibling key set with NX: exactly one caller wins, and it expires with the record.
const CONSUME_SCRIPT = `
local ttl = redis.call('PTTL', KEYS[1])
if ttl == -2 then return -1 end
local ok
if ttl > 0 then ok = redis.call('SET', KEYS[2], ARGV[1], 'NX', 'PX', ttl) else ok = redis.call('SET', KEYS[2], ARGV[1], 'NX') end
if ok then return 1 else return 0 end`;

// A record found through an index (uid, user code): the index and the record in one round trip.
const FIND_BY_INDEX_SCRIPT = `
local id = redis.call('GET', KEYS[1])
if not id then return nil end
local found = redis.call('MGET', ARGV[1] .. id, ARGV[1] .. id .. ':consumed')
return { id, found[1], found[2] }`;

/**
 * Models that are listed or ended per account (a person's sessions). Tokens are not: indexing
 * every access token by account would put an extra set write on the token path for nothing.
 */
const ACCOUNT_INDEXED = new Set(['Session', 'Grant']);

/** oidc-provider adapter for short-lived models: one key per record, expiring with it. */
export class RedisAdapter implements Adapter {
  readonly name: string;
  readonly #redis: Redis;
  readonly #codec: PayloadCodec;
  readonly #onDoubleConsume: DoubleConsumeHandler;

  constructor(name: string, redis: Redis, codec: PayloadCodec, onDoubleConsume: DoubleConsumeHandler) {
    this.name = name;
    this.#redis = redis;
    this.#codec = codec;
    this.#onDoubleConsume = onDoubleConsume;
  }

  #key(id: string): string {
    return `${PREFIX}${this.name}:${this.#codec.storageId(this.name, id)}`;
  }

  async upsert(id: string, payload: Payload, expiresIn?: number): Promise<void> {
    const key = this.#key(id);
    // Indexes point at the storage id: a token's value (its id) is not stored in the clear.
    const storageId = this.#codec.storageId(this.name, id);
    const ttl = expiresIn ? Math.ceil(expiresIn) : undefined;
    const multi = this.#redis.multi();
    const value = JSON.stringify(this.#codec.encode(this.name, id, payload));
    if (ttl) multi.set(key, value, 'EX', ttl); else multi.set(key, value);
    // Sets of keys per grant and (for models listed by account) per account, living as long as their longest member.
    const accountSet = payload.accountId && ACCOUNT_INDEXED.has(this.name) && `${PREFIX}account:${payload.accountId}`;
    for (const setKey of [payload.grantId && `${PREFIX}grant:${payload.grantId}`, accountSet]) {
      if (!setKey) continue;
      multi.sadd(setKey, key);
      if (ttl) {
        multi.expire(setKey, ttl, 'NX');
        multi.expire(setKey, ttl, 'GT');
      } else {
        multi.persist(setKey);
      }
    }
    if (payload.uid) {
      if (ttl) multi.set(`${PREFIX}${this.name}:uid:${payload.uid}`, storageId, 'EX', ttl);
      else multi.set(`${PREFIX}${this.name}:uid:${payload.uid}`, storageId);
    }
    if (payload.userCode) {
      if (ttl) multi.set(`${PREFIX}${this.name}:userCode:${payload.userCode}`, storageId, 'EX', ttl);
      else multi.set(`${PREFIX}${this.name}:userCode:${payload.userCode}`, storageId);
    }
    await multi.exec();
  }

  async #read(key: string, decode: (stored: Payload) => Payload): Promise<Payload | undefined> {
    const [value, consumed] = await this.#redis.mget(key, `${key}:consumed`);
    if (!value) return undefined;
    const payload = decode(JSON.parse(value) as Payload);
    if (consumed) payload.consumed = Number(consumed);
    return payload;
  }

  find(id: string): Promise<Payload | undefined> {
    return this.#read(this.#key(id), (stored) => this.#codec.decode(this.name, id, stored));
  }

  async #findByIndex(index: 'uid' | 'userCode', value: string): Promise<Payload | undefined> {
    const found = await this.#redis.eval(FIND_BY_INDEX_SCRIPT, 1, `${PREFIX}${this.name}:${index}:${value}`, `${PREFIX}${this.name}:`) as
      [string, string | null, string | null] | null;
    if (!found?.[1]) return undefined;
    const [storageId, stored, consumed] = found;
    const payload = this.#codec.decodeByStorageId(this.name, storageId, JSON.parse(stored!) as Payload);
    if (consumed) payload.consumed = Number(consumed);
    return payload;
  }

  findByUid(uid: string): Promise<Payload | undefined> {
    return this.#findByIndex('uid', uid);
  }

  findByUserCode(userCode: string): Promise<Payload | undefined> {
    return this.#findByIndex('userCode', userCode);
  }

  async consume(id: string): Promise<void> {
    const key = this.#key(id);
    const won = await this.#redis.eval(CONSUME_SCRIPT, 2, key, `${key}:consumed`, Math.floor(Date.now() / 1000)) as number;
    if (won === 1) return;
    const value = won === 0 ? await this.#redis.get(key) : null;
    await this.#onDoubleConsume(this.name, value ? (JSON.parse(value) as Payload).grantId : undefined);
  }

  async destroy(id: string): Promise<void> {
    const key = this.#key(id);
    await this.#redis.del(key, `${key}:consumed`);
  }

  async #destroyIndexed(setKey: string): Promise<void> {
    const keys = await this.#redis.smembers(setKey);
    const mine = keys.filter((k) => k.startsWith(`${PREFIX}${this.name}:`));
    if (mine.length === 0) return;
    await this.#redis.multi().del(...mine, ...mine.map((k) => `${k}:consumed`)).srem(setKey, ...mine).exec();
  }

  revokeByGrantId(grantId: string): Promise<void> {
    return this.#destroyIndexed(`${PREFIX}grant:${grantId}`);
  }

  /** Walks this model's keys (SCAN, in pages): records carry no client index, and this is rare. */
  async revokeByClientId(clientId: string): Promise<void> {
    const prefix = `${PREFIX}${this.name}:`;
    let cursor = '0';
    do {
      const [next, keys] = await this.#redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 500);
      cursor = next;
      const records = keys.filter((k) => !k.endsWith(':consumed') && !k.slice(prefix.length).includes(':'));
      if (records.length === 0) continue;
      const values = await this.#redis.mget(...records);
      const theirs = records.filter((_, i) => {
        try {
          return values[i] !== null && (JSON.parse(values[i]!) as Payload).clientId === clientId;
        } catch {
          return false;
        }
      });
      if (theirs.length) await this.#redis.del(...theirs, ...theirs.map((k) => `${k}:consumed`));
    } while (cursor !== '0');
  }

  async findByAccountId(accountId: string): Promise<Payload[]> {
    const prefix = `${PREFIX}${this.name}:`;
    const keys = (await this.#redis.smembers(`${PREFIX}account:${accountId}`)).filter((k) => k.startsWith(prefix));
    const found = await Promise.all(keys.map((key) => {
      const storageId = key.slice(prefix.length);
      return this.#read(key, (stored) => this.#codec.decodeByStorageId(this.name, storageId, stored));
    }));
    return found.filter((p): p is Payload => p !== undefined);
  }

  destroyByAccountId(accountId: string): Promise<void> {
    return this.#destroyIndexed(`${PREFIX}account:${accountId}`);
  }
}
