/**
 * The audit chain against a real, freshly migrated Postgres and the embedded PGlite: entries
 * appended in batches keep their order and chain, and every entry is stored as it was hashed —
 * whatever its details hold — so `verify` finds the chain intact and no batch is lost to one odd entry.
 */
import { randomBytes } from 'node:crypto';
import { AuditLog, prepareAuditEntry, type AuditEntry } from '../../src/audit/index.ts';
import { KeyRing } from '../../src/crypto/index.ts';
import { migrate, PgliteSql, PostgresSql, type Sql } from '../../src/store/index.ts';
import { freshDatabase } from '../support/services.ts';

const entry = (action: string, details?: Record<string, unknown>): AuditEntry => ({
  actor: 'admin@example.com', action, subject: 'client-1', ip: '203.0.113.7', outcome: 'success', ...(details ? { details } : {}),
});

function suite(name: string, open: () => Promise<{ sql: Sql; close(): Promise<void> }>) {
  describe(name, () => {
    let handle: { sql: Sql; close(): Promise<void> };
    let audit: AuditLog;

    beforeAll(async () => {
      handle = await open();
      await migrate(handle.sql);
      audit = new AuditLog(handle.sql, new KeyRing(randomBytes(32)));
    }, 60_000);

    afterAll(async () => {
      await handle?.close();
    });

    test('a batch keeps its order and its chain; entries without subject, address or details too', async () => {
      await audit.appendMany([entry('a.first', { n: 1 }), { actor: 'system', action: 'a.second', outcome: 'info' }, entry('a.third', { nested: { b: [1, 'two', null], a: true } })]);
      await audit.append(entry('a.fourth'));
      const rows = (await audit.recent(4)).reverse();
      expect(rows.map((r) => [r.action, r.subject, r.ip, r.details])).toEqual([
        ['a.first', 'client-1', '203.0.113.7', { n: 1 }],
        ['a.second', null, null, {}],
        ['a.third', 'client-1', '203.0.113.7', { nested: { a: true, b: [1, 'two', null] } }],
        ['a.fourth', 'client-1', '203.0.113.7', {}],
      ]);
      expect(rows.slice(1).map((r, i) => r.prev_hash === rows[i].hash)).toEqual([true, true, true]);
      expect(await audit.verify()).toEqual({ ok: true, entries: 4 });
    });

    test('details as JSON would store them (an undefined value as null, a Date as its time), and the chain still verifies', async () => {
      const at = new Date('2026-12-03T10:00:00.000Z');
      await audit.appendMany([entry('b.values', { gone: undefined, when: at, list: [undefined, 1] })]);
      const [row] = await audit.recent(1);
      expect(row.details).toEqual({ gone: null, when: '2026-12-03T10:00:00.000Z', list: [null, 1] });
      expect((await audit.verify()).ok).toBe(true);
    });

    test('a NUL or half a surrogate pair anywhere in an entry is stored as U+FFFD; the rest of its batch is not lost', async () => {
      const before = (await audit.verify()).entries;
      await audit.appendMany([
        entry('c.before'),
        { actor: 'who\u0000ever', action: 'c.odd', subject: 'x\ud800', ip: '203.0.113.7', outcome: 'failure', details: { email: 'a\u0000b@example.com', ['k\udc00']: 'v' } },
        entry('c.after'),
      ]);
      const rows = (await audit.recent(3)).reverse();
      expect(rows.map((r) => r.action)).toEqual(['c.before', 'c.odd', 'c.after']);
      expect([rows[1].actor, rows[1].subject, rows[1].details]).toEqual(['who\uFFFDever', 'x\uFFFD', { email: 'a\uFFFDb@example.com', 'k\uFFFD': 'v' }]);
      expect(await audit.verify()).toEqual({ ok: true, entries: before + 3 });
    });

    test('appends made at once by writers on other connections keep one chain: each reads its end only once it holds the lock', async () => {
      const before = (await audit.verify()).entries;
      const other = new AuditLog(handle.sql, new KeyRing(randomBytes(32)));
      await Promise.all(Array.from({ length: 12 }, (_, i) => (i % 2 ? other : audit).appendMany([entry(`d.${i}.a`), entry(`d.${i}.b`)])));
      expect(await audit.verify()).toEqual({ ok: true, entries: before + 24 });
    });

    test("a transaction's opening statements run with its BEGIN and hand the rows of the last to its work; a failure rolls it all back", async () => {
      await handle.sql.query('CREATE TABLE opening_probe (n int)');
      const opened = await handle.sql.transaction(async (tx, rows) => {
        await tx.query('INSERT INTO opening_probe VALUES ($1)', [1]);
        return rows;
      }, 'SELECT 1 AS first; SELECT 2 AS last');
      expect(opened).toEqual([{ last: 2 }]);
      await expect(handle.sql.transaction(async (tx) => {
        await tx.query('INSERT INTO opening_probe VALUES ($1)', [2]);
      }, 'INSERT INTO opening_probe VALUES (3); SELECT 1/0')).rejects.toThrow(/division by zero/);
      expect((await handle.sql.query('SELECT n FROM opening_probe')).rows).toEqual([{ n: 1 }]);
    });

    test('retention removes the old part and leaves a checkpoint the kept part verifies from; a removal or checkpoint not made by it breaks the chain', async () => {
      const own = await open();
      try {
        await migrate(own.sql);
        const keys = new KeyRing(randomBytes(32));
        const trail = new AuditLog(own.sql, keys);
        const day = 86_400_000;
        const now = Date.now();
        for (const age of [500, 450, 420]) await trail.appendPrepared([prepareAuditEntry(entry(`old.${age}`))], new Date(now - age * day));
        await trail.appendMany([entry('new.first'), entry('new.second')]);
        expect(await trail.verify()).toEqual({ ok: true, entries: 5 });

        expect(await trail.verify(2)).toEqual({ ok: true, entries: 5 });

        // Two at a time: two removals, two checkpoints.
        expect(await trail.removeBefore(new Date(now - 400 * day), new Date(), 2)).toBe(3);
        expect((await own.sql.query('SELECT removed FROM audit_checkpoints ORDER BY id')).rows.map((r) => Number((r as { removed: string }).removed))).toEqual([2, 1]);
        expect((await trail.recent(10)).map((r) => r.action).reverse()).toEqual(['new.first', 'new.second']);
        expect(await trail.verify()).toEqual({ ok: true, entries: 2, removed: 3 });
        expect(await trail.verify(1)).toEqual({ ok: true, entries: 2, removed: 3 });
        // Appends carry on from the kept chain; a second run finds nothing more to remove.
        await trail.append(entry('new.third'));
        expect(await trail.removeBefore(new Date(now - 400 * day))).toBe(0);
        expect(await trail.verify()).toEqual({ ok: true, entries: 3, removed: 3 });

        // The whole trail older than the cut-off: all but the newest entry go, the chain stays linkable.
        expect(await trail.removeBefore(new Date(now + day))).toBe(2);
        await trail.append(entry('after.all'));
        expect(await trail.verify()).toEqual({ ok: true, entries: 2, removed: 5 });

        // Someone with the database (who can pass the trigger) removes an entry without a checkpoint.
        await trail.appendMany([entry('x.one'), entry('x.two')]);
        const [first] = (await trail.recent(10)).reverse();
        await own.sql.transaction(async (tx) => {
          await tx.query("SELECT set_config('vigil.audit_retention', 'on', true)");
          await tx.query('DELETE FROM audit_log WHERE seq = $1', [first.seq]);
        });
        const broken = await trail.verify();
        expect(broken.ok).toBe(false);

        // Or forges a checkpoint to cover it: its MAC needs the master key.
        await own.sql.query(
          `INSERT INTO audit_checkpoints (created_at, last_removed_seq, last_removed_hash, removed, removed_before, mac)
           VALUES (now(), $1, $2, 1, now(), 'forged')`, [first.seq, first.hash]);
        const { rows: [forged] } = await own.sql.query<{ id: string }>('SELECT max(id) AS id FROM audit_checkpoints');
        expect(await trail.verify()).toEqual({ ok: false, entries: 0, brokenAt: `checkpoint ${forged.id}` });
        await expect(own.sql.query('DELETE FROM audit_checkpoints')).rejects.toThrow(/append-only/);
        await expect(own.sql.query('UPDATE audit_checkpoints SET removed = 0')).rejects.toThrow(/append-only/);
        await expect(own.sql.query('DELETE FROM audit_log')).rejects.toThrow(/append-only/);
      } finally {
        await own.close();
      }
    });
  });
}

suite('on Postgres', async () => {
  const db = await freshDatabase();
  const sql = new PostgresSql(db.url, 2);
  return { sql, close: async () => { await sql.close(); await db.drop(); } };
});

suite('on PGlite', async () => {
  const sql = await PgliteSql.open(undefined);
  return { sql, close: () => sql.close() };
});
