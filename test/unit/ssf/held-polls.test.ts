import { HeldPolls, TooManyHeldPolls } from '../../../src/ssf/held-polls.ts';
import type { Queryable } from '../../../src/store/index.ts';

/** A database whose pending streams the test sets; counts the sweeps' queries. */
function fakeDb(pending: string[] = []) {
  const db = {
    pending,
    queries: 0,
    async query(_sql: string, params: unknown[]) {
      db.queries += 1;
      const asked = params[0] as string[];
      return { rows: db.pending.filter((id) => asked.includes(id)).map((stream_id) => ({ stream_id })), rowCount: 0 };
    },
  };
  return db;
}

const open = { aborted: false };

test('a held poll ends when woken, at its deadline, or when its request ends; one too many is refused', async () => {
  const db = fakeDb();
  const held = new HeldPolls(db as unknown as Queryable, { maxPerStream: 2, sweepMs: 60_000 });
  const start = Date.now();
  const woken = held.hold('s1', start + 5000, open);
  const other = held.hold('s2', start + 5000, open);
  expect(held.held('s1')).toBe(1);
  held.wake(['s1']);
  await woken;
  expect(Date.now() - start).toBeLessThan(1000);
  expect(held.held('s1')).toBe(0);
  expect(held.held('s2')).toBe(1);

  const timedOut = held.hold('s1', Date.now() + 50, open);
  await timedOut;
  expect(Date.now() - start).toBeGreaterThanOrEqual(50);

  let abort: () => void = () => {};
  const aborted = held.hold('s1', Date.now() + 5000, { aborted: false, onAbort: (f) => { abort = f; } });
  const second = held.hold('s1', Date.now() + 5000, open);
  await expect(held.hold('s1', Date.now() + 5000, open)).rejects.toBeInstanceOf(TooManyHeldPolls);
  abort();
  await aborted;
  held.close();
  await Promise.all([second, other]);
  expect(held.held()).toBe(0);
  // Closed: nothing is held any more.
  await held.hold('s3', Date.now() + 5000, open);
});

test('the sweep wakes the polls of streams another instance queued SETs for, in one query per round', async () => {
  const db = fakeDb();
  const held = new HeldPolls(db as unknown as Queryable, { maxPerStream: 4, sweepMs: 20 });
  const start = Date.now();
  const waiting = [held.hold('a', start + 5000, open), held.hold('a', start + 5000, open), held.hold('b', start + 300, open)];
  await new Promise((r) => setTimeout(r, 60));
  expect(held.held('a')).toBe(2);
  db.pending.push('a');
  await Promise.all(waiting.slice(0, 2));
  expect(Date.now() - start).toBeLessThan(1000);
  const queriesBefore = db.queries;
  await waiting[2];
  // Nothing held: the sweep stops.
  await new Promise((r) => setTimeout(r, 100));
  expect(db.queries - queriesBefore).toBeLessThanOrEqual(15);
  const after = db.queries;
  await new Promise((r) => setTimeout(r, 100));
  expect(db.queries).toBe(after);
  held.close();
});
