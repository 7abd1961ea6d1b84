/**
 * The revocation bus on real Redis and Postgres: what one instance publishes, every instance
 * (itself included) hears, in order; other deployments on the same Redis do not; a Postgres
 * listener that loses its connection listens again; a malformed message is ignored.
 */
import { randomBytes } from 'node:crypto';
import { connectRedis, PostgresSql, type Stores } from '../../../src/store/index.ts';
import { LocalBus, openRevocationBus, PostgresBus, REVOCATION_CHANNEL, type RevocationBus, type RevocationEvent } from '../../../src/sessions/index.ts';
import { createLogger } from '../../../src/observability/index.ts';
import { freshDatabase, freshRedis } from '../../support/services.ts';

const logger = createLogger('silent');

function event(target: string, overrides: Partial<RevocationEvent> = {}): RevocationEvent {
  return {
    kind: 'session', target, accountId: 'acct-1', sessions: [target], grants: ['g-1'], clients: ['web'],
    initiator: 'admin', actor: 'acct-admin', reason: 'incident 42', at: Date.now(), origin: 'test', ...overrides,
  };
}

/** Resolves with the first `n` events the bus delivers (or rejects after `ms`). */
function collect(bus: RevocationBus, n: number, ms = 3000): Promise<RevocationEvent[]> {
  return new Promise((resolve, reject) => {
    const got: RevocationEvent[] = [];
    const timer = setTimeout(() => { off(); reject(new Error(`only ${got.length} of ${n} events within ${ms} ms`)); }, ms);
    const off = bus.subscribe((e) => {
      got.push(e);
      if (got.length === n) { clearTimeout(timer); off(); resolve(got); }
    });
  });
}

const silentFor = (bus: RevocationBus, ms: number) => new Promise<RevocationEvent[]>((resolve) => {
  const got: RevocationEvent[] = [];
  const off = bus.subscribe((e) => got.push(e));
  setTimeout(() => { off(); resolve(got); }, ms);
});

describe('LocalBus', () => {
  test('delivers to every subscriber until it unsubscribes; a failing listener does not stop the others', async () => {
    const bus = new LocalBus(logger);
    const seen: string[] = [];
    bus.subscribe(() => { throw new Error('broken listener'); });
    const off = bus.subscribe((e) => seen.push(e.target));
    await bus.publish(event('s-1'));
    off();
    await bus.publish(event('s-2'));
    expect(seen).toEqual(['s-1']);
  });
});

describe('Redis bus', () => {
  let redis: Awaited<ReturnType<typeof freshRedis>>;
  const opened: { bus: RevocationBus; client: Awaited<ReturnType<typeof connectRedis>> }[] = [];
  const open = async (issuer: string) => {
    const client = await connectRedis(redis.url, 'bus-test');
    const bus = await openRevocationBus({ redis: client, sql: { kind: 'pglite' } } as unknown as Stores, issuer, logger);
    opened.push({ bus, client });
    return { bus, client };
  };

  beforeAll(async () => { redis = await freshRedis(); });
  afterAll(async () => {
    for (const { bus, client } of opened) {
      await bus.close();
      await client.quit();
    }
    await redis.close();
  });

  test('two instances of one issuer both hear what one publishes, in order, whole', async () => {
    const issuer = `https://id-${randomBytes(4).toString('hex')}.example`;
    const a = await open(issuer);
    const b = await open(issuer);
    expect(a.bus.name).toBe('redis');
    const onA = collect(a.bus, 3);
    const onB = collect(b.bus, 3);
    const sent = [event('s-1'), event('s-2', { kind: 'account', target: 'acct-1' }), event('s-3', { initiator: 'policy' })];
    for (const e of sent) await a.bus.publish(e);
    expect(await onB).toEqual(sent);
    expect(await onA).toEqual(sent);
  });

  test('another issuer on the same Redis server hears nothing', async () => {
    const a = await open(`https://one-${randomBytes(4).toString('hex')}.example`);
    const other = await open(`https://two-${randomBytes(4).toString('hex')}.example`);
    const quiet = silentFor(other.bus, 400);
    const heard = collect(a.bus, 1);
    await a.bus.publish(event('s-9'));
    await heard;
    expect(await quiet).toEqual([]);
  });

  test('long id lists are cut to fit one message; the reason to 500 characters', async () => {
    const issuer = `https://id-${randomBytes(4).toString('hex')}.example`;
    const a = await open(issuer);
    const heard = collect(a.bus, 1);
    await a.bus.publish(event('acct-2', { kind: 'account', sessions: Array.from({ length: 120 }, (_, i) => `s-${i}`), reason: 'x'.repeat(900) }));
    const [got] = await heard;
    expect(got.sessions).toHaveLength(50);
    expect(got.reason).toHaveLength(500);
  });

  test('a malformed message on the channel is ignored; the next one is delivered', async () => {
    const issuer = `https://id-${randomBytes(4).toString('hex')}.example`;
    const a = await open(issuer);
    const heard = collect(a.bus, 1);
    await a.client.publish(`${REVOCATION_CHANNEL}:${issuer}`, 'not json');
    await a.client.publish(`${REVOCATION_CHANNEL}:${issuer}`, JSON.stringify({ kind: 'session' }));
    await a.bus.publish(event('s-ok'));
    expect((await heard).map((e) => e.target)).toEqual(['s-ok']);
  });
});

describe('Postgres bus (LISTEN/NOTIFY)', () => {
  let db: { url: string; drop(): Promise<void> };
  let sqlA: PostgresSql;
  let sqlB: PostgresSql;
  let a: RevocationBus;
  let b: RevocationBus;

  beforeAll(async () => {
    db = await freshDatabase();
    sqlA = new PostgresSql(db.url, 3);
    sqlB = new PostgresSql(db.url, 3);
    a = await openRevocationBus({ sql: sqlA } as unknown as Stores, 'https://id.example', logger);
    b = await openRevocationBus({ sql: sqlB } as unknown as Stores, 'https://id.example', logger);
  });
  afterAll(async () => {
    await a?.close();
    await b?.close();
    await sqlA?.close();
    await sqlB?.close();
    await db?.drop();
  });

  test('without Redis, Postgres carries the events between instances', async () => {
    expect(a).toBeInstanceOf(PostgresBus);
    const onB = collect(b, 2);
    const sent = [event('s-1'), event('c-1', { kind: 'client', target: 'c-1' })];
    for (const e of sent) await a.publish(e);
    expect(await onB).toEqual(sent);
  });

  test('a listener whose connection is killed listens again and hears later events', async () => {
    await sqlA.query(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity
      WHERE datname = current_database() AND query ILIKE 'LISTEN%' AND pid <> pg_backend_pid()`);
    // Both listeners were killed; each takes a new connection about a second later.
    await new Promise((r) => setTimeout(r, 2500));
    const onA = collect(a, 1);
    const onB = collect(b, 1);
    await b.publish(event('after-reconnect'));
    expect((await onA)[0].target).toBe('after-reconnect');
    expect((await onB)[0].target).toBe('after-reconnect');
  });
});
