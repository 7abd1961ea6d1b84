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
 * A record, the index sets it belongs to and the pointers to it (uid, user code), in one command.
 * KEYS: the record, `ARGV[4]` sets, then the pointers. ARGV: value, ttl in seconds ('' for none),
 * storage id (what pointers hold), number of sets. A set lives as long as its longest member.
 */
const UPSERT_SCRIPT = `
local ttl = tonumber(ARGV[2])
if ttl then redis.call('SET', KEYS[1], ARGV[1], 'EX', ttl) else redis.call('SET', KEYS[1], ARGV[1]) end
local sets = tonumber(ARGV[4])
for i = 2, sets + 1 do
  redis.call('SADD', KEYS[i], KEYS[1])
  if ttl then
    redis.call('EXPIRE', KEYS[i], ttl, 'NX')
    redis.call('EXPIRE', KEYS[i], ttl, 'GT')
  else
    redis.call('PERSIST', KEYS[i])
  end
end
for i = sets + 2, #KEYS do
  if ttl then redis.call('SET', KEYS[i], ARGV[3], 'EX', ttl) else redis.call('SET', KEYS[i], ARGV[3]) end
end
return 1`;

/** The scripts as commands of the client: sent by their SHA once loaded (ioredis loads them on first use). */
interface ScriptCommands {
  vigilUpsert(...args: (string | number)[]): Promise<number>;
  vigilFindByIndex(...args: (string | number)[]): Promise<[string, string | null, string | null] | null>;
  vigilConsume(...args: (string | number)[]): Promise<number>;
}

function withScripts(redis: Redis): Redis & ScriptCommands {
  const scripted = redis as Redis & Partial<ScriptCommands>;
  if (!scripted.vigilUpsert) {
    redis.defineCommand('vigilUpsert', { lua: UPSERT_SCRIPT });
    redis.defineCommand('vigilFindByIndex', { lua: FIND_BY_INDEX_SCRIPT, numberOfKeys: 1 });
    redis.defineCommand('vigilConsume', { lua: CONSUME_SCRIPT, numberOfKeys: 2 });
  }
  return scripted as Redis & ScriptCommands;
}

/**
 * Models that are listed or ended per account (a person's sessions). Tokens are not: indexing
 * every access token by account would put an extra set write on the token path for nothing.
 */
const ACCOUNT_INDEXED = new Set(['Session', 'Grant']);

/** oidc-provider adapter for short-lived models: one key per record, expiring with it. */
export class RedisAdapter implements Adapter {
  readonly name: string;
  readonly #redis: Redis & ScriptCommands;
  readonly #codec: PayloadCodec;
  readonly #onDoubleConsume: DoubleConsumeHandler;

  constructor(name: string, redis: Redis, codec: PayloadCodec, onDoubleConsume: DoubleConsumeHandler) {
    this.name = name;
    this.#redis = withScripts(redis);
    this.#codec = codec;
    this.#onDoubleConsume = onDoubleConsume;
  }

  #key(id: string, storageId = this.#codec.storageId(this.name, id)): string {
    return `${PREFIX}${this.name}:${storageId}`;
  }

  async upsert(id: string, payload: Payload, expiresIn?: number): Promise<void> {
    // Indexes point at the storage id: a token's value (its id) is not stored in the clear.
    const storageId = this.#codec.storageId(this.name, id);
    const key = this.#key(id, storageId);
    const ttl = expiresIn ? Math.ceil(expiresIn) : undefined;
    const value = JSON.stringify(this.#codec.encode(this.name, id, payload));
    // Sets of keys per grant and (for models listed by account) per account.
    const sets = [
      payload.grantId && `${PREFIX}grant:${payload.grantId}`,
      payload.accountId && ACCOUNT_INDEXED.has(this.name) && `${PREFIX}account:${payload.accountId}`,
    ].filter((k): k is string => typeof k === 'string');
    const pointers = [
      payload.uid && `${PREFIX}${this.name}:uid:${payload.uid}`,
      payload.userCode && `${PREFIX}${this.name}:userCode:${payload.userCode}`,
    ].filter((k): k is string => typeof k === 'string');
    const keys = [key, ...sets, ...pointers];
    await this.#redis.vigilUpsert(keys.length, ...keys, value, ttl ?? '', storageId, sets.length);
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
    const found = await this.#redis.vigilFindByIndex(`${PREFIX}${this.name}:${index}:${value}`, `${PREFIX}${this.name}:`);
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
    const won = await this.#redis.vigilConsume(key, `${key}:consumed`, Math.floor(Date.now() / 1000));
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
  async revokeByClientId(clientId: string): Promise<number> {
    const prefix = `${PREFIX}${this.name}:`;
    let cursor = '0';
    let removed = 0;
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
      removed += theirs.length;
    } while (cursor !== '0');
    return removed;
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
