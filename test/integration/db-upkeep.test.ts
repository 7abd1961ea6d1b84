/**
 * Table upkeep where nobody else does it (a Postgres server with autovacuum off, as on this
 * machine, and the embedded database): Vigil analyzes and vacuums its own tables once they pass
 * autovacuum's default thresholds. What a client would notice without it: the refresh-token
 * lookup is prepared once per connection, and the plan a connection made while the table was
 * small goes on reading every refresh token of the table on each refresh.
 */
import { randomBytes } from 'node:crypto';
import { KeyRing } from '../../src/crypto/index.ts';
import {
  GrantPrefetch, migrate, PayloadCodec, PgliteSql, PostgresSql, scheduleUpkeep, SqlAdapter, TableUpkeep, upkeepDue, upkeepNeeded, UPKEEP_THRESHOLDS,
} from '../../src/store/index.ts';
import { createLogger } from '../../src/observability/index.ts';
import { freshDatabase } from '../support/services.ts';

const rid = () => randomBytes(12).toString('base64url');
const noDoubleConsume = async (): Promise<never> => { throw new Error('consumed twice'); };

describe('which tables are due (autovacuum default thresholds)', () => {
  const table = (liveRows: number, deadRows: number, modifiedSinceAnalyze: number) => ({ table: 't', liveRows, deadRows, modifiedSinceAnalyze });

  test('ANALYZE past 50 changed rows plus a tenth of the table, VACUUM past 50 dead rows plus a fifth', () => {
    expect(UPKEEP_THRESHOLDS).toEqual({ analyzeBase: 50, analyzeScale: 0.1, vacuumBase: 50, vacuumScale: 0.2 });
    expect(upkeepDue([table(0, 0, 50)])).toEqual({ analyze: [], vacuum: [] });
    expect(upkeepDue([table(0, 0, 51)])).toEqual({ analyze: ['t'], vacuum: [] });
    expect(upkeepDue([table(1000, 250, 150)])).toEqual({ analyze: [], vacuum: [] });
    expect(upkeepDue([table(1000, 251, 151)])).toEqual({ analyze: ['t'], vacuum: ['t'] });
  });

  test('each table is judged on its own counts', () => {
    const due = upkeepDue([
      { table: 'busy', liveRows: 100, deadRows: 0, modifiedSinceAnalyze: 500 },
      { table: 'quiet', liveRows: 100_000, deadRows: 10, modifiedSinceAnalyze: 500 },
    ]);
    expect(due).toEqual({ analyze: ['busy'], vacuum: [] });
  });
});

describe('on a real Postgres', () => {
  let db: Awaited<ReturnType<typeof freshDatabase>>;
  // One connection: the plan under test is the one that connection keeps.
  let sql: PostgresSql;
  let tokens: SqlAdapter;
  let codec: PayloadCodec;

  beforeAll(async () => {
    db = await freshDatabase();
    sql = new PostgresSql(db.url, 1);
    await migrate(sql);
    codec = new PayloadCodec(new KeyRing(randomBytes(32)));
    tokens = new SqlAdapter('RefreshToken', sql, codec, noDoubleConsume, { grants: new GrantPrefetch() });
  }, 30_000);

  afterAll(async () => {
    await sql?.close();
    await db?.drop();
  });

  /** The lookup's kept plan, run for `ids`: the pages it read and the most rows any scan of oidc_payloads returned. */
  async function lookupCost(ids: string[]): Promise<{ pages: number; widestScan: number }> {
    const keys = ids.map((id) => codec.storageId('RefreshToken', id));
    const literal = (values: string[]) => `'{${values.join(',')}}'`;
    const { rows } = await sql.query<{ 'QUERY PLAN': Array<{ Plan: PlanNode }> }>(
      `EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) EXECUTE vigil_oidc_find_refresh_tokens(${literal(keys)}, ${literal(keys.map(() => '203.0.113.9'))})`,
    );
    const plan = rows[0]['QUERY PLAN'][0].Plan;
    let widestScan = 0;
    const walk = (node: PlanNode) => {
      if (node['Relation Name'] === 'oidc_payloads') widestScan = Math.max(widestScan, node['Actual Rows']);
      for (const child of node.Plans ?? []) walk(child);
    };
    walk(plan);
    return { pages: plan['Shared Hit Blocks'] + plan['Shared Read Blocks'], widestScan };
  }

  test('Vigil keeps the tables itself ("auto") exactly when the server runs without autovacuum; "off" never does', async () => {
    const { rows } = await sql.query<{ autovacuum: string }>("SELECT current_setting('autovacuum') AS autovacuum");
    expect(await upkeepNeeded(sql, 'auto')).toBe(rows[0].autovacuum === 'off');
    expect(await upkeepNeeded(sql, 'off')).toBe(false);
  });

  test('an operator is told at start that Vigil does the upkeep, and how to stop it', async () => {
    const lines: string[] = [];
    const logger = createLogger('info', { write: (line: string) => { lines.push(line); } });
    const stop = await scheduleUpkeep(sql, { mode: 'auto', intervalSeconds: 3600, logger });
    await stop();
    const { rows } = await sql.query<{ autovacuum: string }>("SELECT current_setting('autovacuum') AS autovacuum");
    const warned = lines.map((line) => JSON.parse(line) as { level: number; msg: string; setting?: string }).filter((l) => l.level === 40);
    expect(warned).toHaveLength(rows[0].autovacuum === 'off' ? 1 : 0);
    if (warned.length) {
      expect(warned[0].setting).toBe('autovacuum');
      expect(warned[0].msg).toContain('VIGIL_DB_UPKEEP=off');
    }
  });

  test('a lookup planned on a small table reads only the asked-for rows once the grown table is analyzed', async () => {
    const early = [rid(), rid(), rid()];
    for (const id of early) await tokens.upsert(id, { jti: id, kind: 'RefreshToken', grantId: `g-${id}`, accountId: 'acct', clientId: 'web' }, 600);
    // The connection prepares the lookup now, while the table holds three tokens.
    for (let i = 0; i < 6; i += 1) expect(await tokens.find(early[i % 3])).toMatchObject({ grantId: `g-${early[i % 3]}` });

    await sql.query(`INSERT INTO oidc_payloads (model, id, payload, grant_id, account_id, expires_at)
      SELECT 'RefreshToken', md5(i::text), jsonb_build_object('sealed', repeat('x', 400)), 'g' || i, 'acct', now() + interval '1 hour'
      FROM generate_series(1, 3000) i`);
    await sql.query('SELECT pg_stat_force_next_flush()');

    const before = await lookupCost(early.slice(0, 2));
    expect(before.widestScan).toBeGreaterThan(1000);

    const done = await new TableUpkeep(sql).run();
    expect(done.analyze).toContain('oidc_payloads');

    const after = await lookupCost(early.slice(0, 2));
    // Planned again after the ANALYZE, and only then: the kept plan serves every call.
    const { rows } = await sql.query<{ generic: string; custom: string }>(
      "SELECT generic_plans AS generic, custom_plans AS custom FROM pg_prepared_statements WHERE name = 'vigil_oidc_find_refresh_tokens'",
    );
    expect(Number(rows[0].custom)).toBe(0);
    expect(Number(rows[0].generic)).toBeGreaterThanOrEqual(8);
    expect(after.widestScan).toBeLessThanOrEqual(2);
    expect(after.pages).toBeLessThan(before.pages / 10);
    expect(await tokens.find(early[1])).toMatchObject({ grantId: `g-${early[1]}` });
  }, 30_000);

  test('an analyzed table is not analyzed again until it changes again; dead rows are vacuumed', async () => {
    await sql.query('SELECT pg_stat_force_next_flush()');
    await new TableUpkeep(sql).run();
    expect((await new TableUpkeep(sql).run()).analyze).toEqual([]);

    await sql.query("DELETE FROM oidc_payloads WHERE model = 'RefreshToken' AND id < '8'");
    await sql.query('SELECT pg_stat_force_next_flush()');
    const done = await new TableUpkeep(sql).run();
    expect(done.vacuum).toContain('oidc_payloads');
    const { rows } = await sql.query<{ dead: string }>("SELECT n_dead_tup AS dead FROM pg_stat_user_tables WHERE relname = 'oidc_payloads'");
    expect(Number(rows[0].dead)).toBeLessThan(50);
  }, 30_000);

  test('only one instance keeps the tables in a round; the other skips it', async () => {
    const other = new PostgresSql(db.url, 1);
    try {
      const held = other.transaction(async (tx) => {
        await tx.query('SELECT pg_advisory_xact_lock($1)', [0x5616_0001]);
        await sql.query(`INSERT INTO oidc_payloads (model, id, payload, expires_at)
          SELECT 'Session', md5(i::text), '{}'::jsonb, now() + interval '1 hour' FROM generate_series(1, 500) i`);
        await sql.query('SELECT pg_stat_force_next_flush()');
        return new TableUpkeep(sql).run();
      });
      expect(await held).toEqual({ analyze: [], vacuum: [] });
      expect((await new TableUpkeep(sql).run()).analyze).toContain('oidc_payloads');
    } finally {
      await other.close();
    }
  }, 30_000);
});

describe('on the embedded database', () => {
  let sql: PgliteSql;

  beforeAll(async () => {
    sql = await PgliteSql.open(undefined);
    await migrate(sql);
  }, 30_000);

  afterAll(() => sql?.close());

  test('PGlite runs no autovacuum: Vigil analyzes its tables', async () => {
    expect(await upkeepNeeded(sql, 'auto')).toBe(true);
    await sql.query(`INSERT INTO oidc_payloads (model, id, payload, expires_at)
      SELECT 'RefreshToken', md5(i::text), '{}'::jsonb, now() + interval '1 hour' FROM generate_series(1, 300) i`);
    await sql.query('SELECT pg_stat_force_next_flush()');
    expect((await new TableUpkeep(sql).run()).analyze).toContain('oidc_payloads');
    const { rows } = await sql.query<{ analyzed: boolean }>("SELECT last_analyze IS NOT NULL AS analyzed FROM pg_stat_user_tables WHERE relname = 'oidc_payloads'");
    expect(rows[0].analyzed).toBe(true);

    await sql.query("DELETE FROM oidc_payloads WHERE model = 'RefreshToken'");
    await sql.query('SELECT pg_stat_force_next_flush()');
    expect((await new TableUpkeep(sql).run()).vacuum).toContain('oidc_payloads');
  }, 30_000);

  test('the schedule runs its rounds by itself, and stopping it waits for the round under way', async () => {
    await sql.query(`INSERT INTO risk_ip_failures (ip, failures)
      SELECT '198.51.100.' || i, '[]'::jsonb FROM generate_series(1, 120) i`);
    await sql.query('SELECT pg_stat_force_next_flush()');
    const stop = await scheduleUpkeep(sql, { mode: 'auto', intervalSeconds: 1, logger: createLogger('silent') });
    const analyzed = async () => (await sql.query<{ at: string | null }>("SELECT last_analyze AS at FROM pg_stat_user_tables WHERE relname = 'risk_ip_failures'")).rows[0].at;
    const until = Date.now() + 10_000;
    while (!(await analyzed()) && Date.now() < until) await new Promise((resolve) => setTimeout(resolve, 200));
    await stop();
    expect(await analyzed()).not.toBeNull();
    const off = await scheduleUpkeep(sql, { mode: 'off', intervalSeconds: 1, logger: createLogger('silent') });
    await off();
  }, 30_000);
});

interface PlanNode {
  'Relation Name'?: string;
  'Actual Rows': number;
  'Shared Hit Blocks': number;
  'Shared Read Blocks': number;
  Plans?: PlanNode[];
}
