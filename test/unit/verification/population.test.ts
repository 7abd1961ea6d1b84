/**
 * PopulationCache against a real, freshly migrated Postgres database: counts recorded locally are
 * added to the shared table in batches, other instances see them on load, and a batch that could
 * not be written stays pending; the verifier counts an event only once an account's history kept it.
 */
import { migrate, PostgresSql, type Queryable } from '../../../src/store/index.ts';
import { ContinuousVerifier, PopulationCache, RiskStore, type VerifierDeps } from '../../../src/verification/index.ts';
import { emptyHistory, eventFromContext, featureValues, FEATURES, type HistoryEvent } from '../../../src/risk/index.ts';
import { createLogger } from '../../../src/observability/index.ts';
import { freshDatabase } from '../../support/services.ts';
import { ctx, PLACES, UA } from '../risk/fixtures.ts';

let db: { url: string; drop(): Promise<void> };
let sql: PostgresSql;
const logger = createLogger('silent');

beforeAll(async () => {
  db = await freshDatabase();
  sql = new PostgresSql(db.url, 4);
  await migrate(sql);
});

afterAll(async () => {
  await sql?.close();
  await db?.drop();
});

beforeEach(async () => {
  await sql.query('DELETE FROM risk_population');
});

const london: HistoryEvent = eventFromContext(ctx(), emptyHistory());
const paris: HistoryEvent = eventFromContext(ctx({ geo: PLACES.paris, ip: '90.12.22.32', userAgent: UA.safariMac, deviceId: 'dev-mac' }), emptyHistory());
const serverSide: HistoryEvent = eventFromContext(ctx({ ipIsUser: false, deviceId: undefined }), emptyHistory());

async function table(): Promise<Record<string, number>> {
  const { rows } = await sql.query<{ feature: string; value: string; count: string }>('SELECT feature, value, count FROM risk_population');
  return Object.fromEntries(rows.map((r) => [`${r.feature}=${r.value}`, Number(r.count)]));
}

/** A Queryable whose backend can be swapped (a closed pool, then a working one). */
function switchable(initial: Queryable): Queryable & { target: Queryable; calls: number } {
  const q = {
    target: initial,
    calls: 0,
    query<T>(text: string, params?: unknown[]) {
      q.calls += 1;
      return q.target.query<T>(text, params);
    },
  };
  return q as Queryable & { target: Queryable; calls: number };
}

describe('PopulationCache', () => {
  test('an empty table loads as an empty population', async () => {
    const cache = new PopulationCache(sql, logger);
    await cache.load();
    expect(cache.stats.total).toBe(0);
    expect(cache.stats.accounts).toBe(0);
    for (const feature of FEATURES) expect(cache.stats.counts[feature].size).toBe(0);
  });

  test('flush with nothing recorded makes no query', async () => {
    const q = switchable(sql);
    const cache = new PopulationCache(q, logger);
    await cache.flush();
    expect(q.calls).toBe(0);
  });

  test('record + flush writes the counts; another instance\'s load sees them', async () => {
    const writer = new PopulationCache(sql, logger);
    writer.record(london, true);
    writer.record(london, false);
    writer.record(paris, true);
    await writer.flush();

    const v = featureValues(london);
    const rows = await table();
    expect(rows['_meta=total']).toBe(3);
    expect(rows['_meta=accounts']).toBe(2);
    expect(rows[`country=${v.country}`]).toBe(2);
    expect(rows['country=FR']).toBe(1);
    expect(rows[`ip=${v.ip}`]).toBe(2);
    expect(rows[`device=${v.device}`]).toBe(2);
    expect(rows['device=dev-mac']).toBe(1);
    expect(rows[`agent=${featureValues(paris).agent}`]).toBe(1);

    const reader = new PopulationCache(sql, logger);
    await reader.load();
    expect(reader.stats.total).toBe(3);
    expect(reader.stats.accounts).toBe(2);
    expect(reader.stats.counts.country.get('GB')).toBe(2);
    expect(reader.stats.counts.country.get('FR')).toBe(1);
    expect(reader.stats.counts.region.get('FR/IDF')).toBe(1);
    expect(reader.stats.counts.hour.get(v.hour!)).toBe(3); // both places sign in at 09:00 in their zone
    expect(typeof reader.stats.counts.hour.get(v.hour!)).toBe('number');

    // A second batch is added to the first, not written over it.
    writer.record(paris, false);
    await writer.flush();
    await reader.load();
    expect(reader.stats.total).toBe(4);
    expect(reader.stats.counts.country.get('FR')).toBe(2);
    // Flushed counts are no longer pending: flushing again writes nothing more.
    await writer.flush();
    expect((await table())['_meta=total']).toBe(4);
  });

  test('an absent feature is not counted (no device; server-side event has no place)', async () => {
    const cache = new PopulationCache(sql, logger);
    cache.record(serverSide, true);
    await cache.flush();
    const rows = await table();
    expect(Object.keys(rows).filter((k) => k.startsWith('device='))).toEqual([]);
    expect(rows['ip=server']).toBe(1);
    expect(rows['country=?']).toBe(1);
    expect(rows['region=?/?']).toBe(1);
  });

  test('rows of unknown features are ignored on load', async () => {
    await sql.query(`INSERT INTO risk_population (feature, value, count) VALUES ('colour', 'blue', 5), ('_meta', 'other', 9), ('_meta', 'total', 7)`);
    const cache = new PopulationCache(sql, logger);
    await cache.load();
    expect(cache.stats.total).toBe(7);
    expect(cache.stats.accounts).toBe(0);
    expect('colour' in cache.stats.counts).toBe(false);
  });

  test('counts recorded but not yet written survive a reload, and are not counted twice once written', async () => {
    const other = new PopulationCache(sql, logger);
    other.record(paris, true);
    await other.flush();

    const cache = new PopulationCache(sql, logger);
    cache.record(london, true);
    await cache.load();
    expect(cache.stats.total).toBe(2);
    expect(cache.stats.accounts).toBe(2);
    expect(cache.stats.counts.country.get('GB')).toBe(1);
    expect(cache.stats.counts.country.get('FR')).toBe(1);

    await cache.flush();
    await cache.load();
    expect(cache.stats.total).toBe(2);
    expect(cache.stats.counts.country.get('GB')).toBe(1);
  });

  test('a recorded event counts in the live table at once; a load replaces the table object and does not mutate the one before it', async () => {
    const cache = new PopulationCache(sql, logger);
    await cache.load();
    const before = cache.stats;
    cache.record(london, true);
    expect(before.total).toBe(1);
    expect(before.accounts).toBe(1);
    expect(before.counts.country.get('GB')).toBe(1);
    await cache.flush();
    await cache.load();
    expect(cache.stats).not.toBe(before);
    expect(before.total).toBe(1);
    expect(cache.stats.total).toBe(1);
  });

  test('a failed flush keeps its counts pending; the next flush on a working database writes them once', async () => {
    const closed = new PostgresSql(db.url, 1);
    await closed.close();
    const q = switchable(closed);
    const cache = new PopulationCache(q, logger);
    cache.record(london, true);
    cache.record(london, false);
    await expect(cache.flush()).rejects.toThrow();
    // Recorded after the failure: merged with the returned batch.
    cache.record(paris, false);
    await expect(cache.flush()).rejects.toThrow();
    expect(await table()).toEqual({});

    q.target = sql;
    // Still pending: visible in a reload before they are written.
    await cache.load();
    expect(cache.stats.total).toBe(3);
    expect(cache.stats.accounts).toBe(1);
    await cache.flush();
    const rows = await table();
    expect(rows['_meta=total']).toBe(3);
    expect(rows['_meta=accounts']).toBe(1);
    expect(rows['country=GB']).toBe(2);
    expect(rows['country=FR']).toBe(1);
    await cache.flush();
    expect((await table())['_meta=total']).toBe(3);
  });

  test('counts recorded while a failing flush is in flight are kept along with the returned batch', async () => {
    let fail!: (err: Error) => void;
    const q = switchable({ query: () => new Promise((_, reject) => { fail = reject; }) });
    const cache = new PopulationCache(q, logger);
    cache.record(london, true);
    const flushing = cache.flush();
    cache.record(london, false);
    // flush() queues behind any write in progress: let it reach the database.
    await new Promise((resolve) => setImmediate(resolve));
    fail(new Error('connection lost'));
    await expect(flushing).rejects.toThrow('connection lost');
    q.target = sql;
    await cache.flush();
    const rows = await table();
    expect(rows['_meta=total']).toBe(2);
    expect(rows['_meta=accounts']).toBe(1);
  });

  test('stop() writes what is pending; start() timers flush on their own', async () => {
    const cache = new PopulationCache(sql, logger);
    cache.start(20, 60_000);
    cache.record(london, true);
    const deadline = Date.now() + 5000;
    while (Date.now() < deadline && (await table())['_meta=total'] !== 1) await new Promise((r) => setTimeout(r, 10));
    expect((await table())['_meta=total']).toBe(1);
    cache.record(paris, false);
    await cache.stop();
    expect((await table())['_meta=total']).toBe(2);
  });
});

describe('the verifier counts in the population what an account\'s history kept', () => {
  /** A store whose loads wait for one another: `n` requests that read the same version of a history. */
  function racingStore(store: RiskStore, n: number): RiskStore {
    let arrived = 0;
    let release!: () => void;
    const together = new Promise<void>((resolve) => { release = resolve; });
    return {
      load: async (...args: Parameters<RiskStore['load']>) => {
        const state = await store.load(...args);
        if (++arrived === n) release();
        await together;
        return state;
      },
      save: (...args: Parameters<RiskStore['save']>) => store.save(...args),
    } as unknown as RiskStore;
  }

  test('two sign-ins of one new account recorded at once: one history write wins, and only it is counted (one account, one event)', async () => {
    await sql.query("INSERT INTO accounts (id, email) VALUES ('ada', 'ada@example.com') ON CONFLICT DO NOTHING");
    const population = new PopulationCache(sql, logger);
    const verifier = new ContinuousVerifier({
      config: { VIGIL_RISK_ENGINE: true }, store: racingStore(new RiskStore(sql), 2), population, logger,
    } as unknown as VerifierDeps);
    const signIn = (deviceId: string) => ({ ...ctx({ accountId: 'ada', deviceId }), ip: '127.0.0.1' });
    await Promise.all([verifier.recordLogin(signIn('dev-a')), verifier.recordLogin(signIn('dev-b'))]);

    const { rows } = await sql.query<{ n: number }>("SELECT (history->'stats'->>'total')::int AS n FROM risk_profiles WHERE account_id = 'ada'");
    expect(rows).toEqual([{ n: 1 }]);
    expect(population.stats.total).toBe(1);
    expect(population.stats.accounts).toBe(1);
    await population.flush();
    expect(await table()).toMatchObject({ '_meta=total': 1, '_meta=accounts': 1 });
  });
});
