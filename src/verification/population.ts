/**
 * The population table of the behaviour model, kept in memory by every instance: read at start,
 * counted into locally as events are recorded, added to the shared table in batches, and re-read
 * now and then so that each instance sees the others' counts. Statistics, not accounting: a few
 * seconds of lag between instances changes nothing the model can notice.
 */
import type { Queryable } from '../store/index.ts';
import { countInPopulation, emptyPopulation, FEATURES, featureValues, type HistoryEvent, type PopulationStats } from '../risk/index.ts';
import type { Logger } from '../observability/index.ts';

const META = '_meta';
const KNOWN = new Set<string>(FEATURES);

export class PopulationCache {
  readonly #db: Queryable;
  readonly #logger: Logger;
  #stats: PopulationStats = emptyPopulation();
  #pending = new Map<string, number>();
  /** The write in progress: a `load` waits for it, so a batch is never missing from both the table and `#pending`. */
  #flushing: Promise<void> = Promise.resolve();
  #timers: NodeJS.Timeout[] = [];

  constructor(db: Queryable, logger: Logger) {
    this.#db = db;
    this.#logger = logger;
  }

  /** The live table: histories point at it, and recording an event counts into it. */
  get stats(): PopulationStats {
    return this.#stats;
  }

  async load(): Promise<void> {
    await this.#flushing.catch(() => undefined);
    const { rows } = await this.#db.query<{ feature: string; value: string; count: string | number }>('SELECT feature, value, count FROM risk_population');
    const stats = emptyPopulation();
    for (const row of rows) {
      const count = Number(row.count);
      if (row.feature === META) {
        if (row.value === 'total') stats.total = count;
        if (row.value === 'accounts') stats.accounts = count;
      } else if (KNOWN.has(row.feature)) {
        stats.counts[row.feature as keyof PopulationStats['counts']].set(row.value, count);
      }
    }
    // What this instance counted but has not written yet stays counted.
    for (const [key, n] of this.#pending) this.#add(stats, key, n);
    this.#stats = stats;
  }

  /**
   * An event an account's stored history kept: counted into the live table, and remembered to be
   * written in the next batch. (An event whose history write lost to another is not counted.)
   */
  record(event: HistoryEvent, firstOfAccount: boolean): void {
    countInPopulation(this.#stats, event, firstOfAccount);
    const values = featureValues(event);
    this.#bump(`${META}\u0000total`);
    if (firstOfAccount) this.#bump(`${META}\u0000accounts`);
    for (const feature of FEATURES) {
      const value = values[feature];
      if (value !== undefined) this.#bump(`${feature}\u0000${value}`);
    }
  }

  flush(): Promise<void> {
    const next = this.#flushing.catch(() => undefined).then(() => this.#flushPending());
    this.#flushing = next;
    return next;
  }

  async #flushPending(): Promise<void> {
    if (this.#pending.size === 0) return;
    const batch = this.#pending;
    this.#pending = new Map();
    const features: string[] = [];
    const values: string[] = [];
    const counts: number[] = [];
    for (const [key, n] of batch) {
      const at = key.indexOf('\u0000');
      features.push(key.slice(0, at));
      values.push(key.slice(at + 1));
      counts.push(n);
    }
    try {
      await this.#db.query(
        `INSERT INTO risk_population (feature, value, count) SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[])
         ON CONFLICT (feature, value) DO UPDATE SET count = risk_population.count + EXCLUDED.count`,
        [features, values, counts],
      );
    } catch (err) {
      for (const [key, n] of batch) this.#pending.set(key, (this.#pending.get(key) ?? 0) + n);
      throw err;
    }
  }

  /** Writes every few seconds; re-reads every few minutes. */
  start(flushMs = 5_000, reloadMs = 300_000): void {
    const flush = setInterval(() => this.flush().catch((err) => this.#logger.warn({ err }, 'could not write population counts')), flushMs);
    const reload = setInterval(() => {
      this.flush().then(() => this.load()).catch((err) => this.#logger.warn({ err }, 'could not reload population counts'));
    }, reloadMs);
    flush.unref();
    reload.unref();
    this.#timers = [flush, reload];
  }

  async stop(): Promise<void> {
    for (const t of this.#timers) clearInterval(t);
    this.#timers = [];
    await this.flush();
  }

  #bump(key: string): void {
    this.#pending.set(key, (this.#pending.get(key) ?? 0) + 1);
  }

  #add(stats: PopulationStats, key: string, n: number): void {
    const at = key.indexOf('\u0000');
    const feature = key.slice(0, at);
    const value = key.slice(at + 1);
    if (feature === META) {
      if (value === 'total') stats.total += n;
      if (value === 'accounts') stats.accounts += n;
    } else {
      const table = stats.counts[feature as keyof PopulationStats['counts']];
      table.set(value, (table.get(value) ?? 0) + n);
    }
  }
}
