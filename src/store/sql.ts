import pg from 'pg';
import { PGlite } from '@electric-sql/pglite';
import { asStoreOutage } from './outage.ts';

export interface QueryResult<T> {
  rows: T[];
  rowCount: number;
}

export interface QueryOptions {
  /**
   * Prepares the statement once per connection under this name (Postgres), so the hot path's
   * bigger statements are not parsed and planned at every call. Only for fixed text: one name, one text.
   */
  prepareAs?: string;
}

export interface Queryable {
  query<T = Record<string, unknown>>(text: string, params?: unknown[], options?: QueryOptions): Promise<QueryResult<T>>;
}

/** One SQL interface over a pg Pool (Postgres) and PGlite (the embedded default). */
export interface Sql extends Queryable {
  readonly kind: 'postgres' | 'pglite';
  /**
   * `opening`: statements without parameters (a lock, a read) run right after BEGIN, in the
   * same round trip as it (Postgres); `fn` gets the rows of the last of them.
   */
  transaction<R>(fn: (tx: Queryable, opened: Record<string, unknown>[]) => Promise<R>, opening?: string): Promise<R>;
  close(): Promise<void>;
}

export class PostgresSql implements Sql {
  readonly kind = 'postgres';
  readonly pool: pg.Pool;

  constructor(connectionString: string, max: number) {
    this.pool = new pg.Pool({ connectionString, max, connectionTimeoutMillis: 5000, idleTimeoutMillis: 30000 });
    // An idle client losing its connection must not crash the process; the next query reports it.
    this.pool.on('error', () => {});
    // Nor one that is checked out between two queries (a transaction, a prepared statement's
    // set-up) when the server goes away: pg emits 'error' on the client then, and the pool
    // listens only to idle ones. Its next query fails, and the pool drops it when it is released.
    this.pool.on('connect', (client) => client.on('error', () => {}));
  }

  async query<T>(text: string, params: unknown[] = [], options: QueryOptions = {}): Promise<QueryResult<T>> {
    try {
      const result = options.prepareAs
        ? await this.#prepared(options.prepareAs, text, params)
        : await this.pool.query({ text, values: params });
      return { rows: result.rows as T[], rowCount: result.rowCount ?? 0 };
    } catch (err) {
      throw asStoreOutage(err, 'postgres');
    }
  }

  // Connections told to keep their generic plans.
  readonly #generic = new WeakSet<pg.PoolClient>();

  /**
   * A prepared statement is planned once per connection and that plan is kept until the
   * statistics move (ANALYZE). Left to choose, Postgres re-plans the batched statements at every
   * call: each call's own plan sees the actual array (a few rows) where the kept one estimates
   * ten, so the kept one always looks dearer (measured: ~0.7 ms of planning per lookup).
   */
  async #prepared(name: string, text: string, values: unknown[]): Promise<pg.QueryResult> {
    const client = await this.pool.connect();
    try {
      if (!this.#generic.has(client)) {
        await client.query('SET plan_cache_mode = force_generic_plan');
        this.#generic.add(client);
      }
      const result = await client.query({ name, text, values });
      client.release();
      return result;
    } catch (err) {
      // As pool.query does: a client that failed a query is not handed out again.
      client.release(err as Error);
      throw err;
    }
  }

  async transaction<R>(fn: (tx: Queryable, opened: Record<string, unknown>[]) => Promise<R>, opening?: string): Promise<R> {
    let client: pg.PoolClient;
    try {
      client = await this.pool.connect();
    } catch (err) {
      throw asStoreOutage(err, 'postgres');
    }
    try {
      // Several statements in one text go as one simple query: one round trip, a result each.
      const begun = await client.query(opening ? `BEGIN; ${opening}` : 'BEGIN') as pg.QueryResult | pg.QueryResult[];
      const opened = Array.isArray(begun) ? begun.at(-1)!.rows : [];
      const tx: Queryable = {
        query: async <T>(text: string, params: unknown[] = []) => {
          const result = await client.query(text, params);
          return { rows: result.rows as T[], rowCount: result.rowCount ?? 0 };
        },
      };
      const value = await fn(tx, opened);
      await client.query('COMMIT');
      return value;
    } catch (err) {
      await client.query('ROLLBACK').catch(() => {});
      throw asStoreOutage(err, 'postgres');
    } finally {
      client.release();
    }
  }

  async close(): Promise<void> {
    await this.pool.end();
  }
}

export class PgliteSql implements Sql {
  readonly kind = 'pglite';
  readonly db: PGlite;

  private constructor(db: PGlite) {
    this.db = db;
  }

  static async open(dataDir: string | undefined): Promise<PgliteSql> {
    const db = dataDir ? new PGlite(dataDir) : new PGlite();
    await db.waitReady;
    return new PgliteSql(db);
  }

  async query<T>(text: string, params: unknown[] = []): Promise<QueryResult<T>> {
    const result = await this.db.query<T>(text, params);
    return { rows: result.rows, rowCount: result.rowCount ?? result.affectedRows ?? result.rows.length };
  }

  async transaction<R>(fn: (tx: Queryable, opened: Record<string, unknown>[]) => Promise<R>, opening?: string): Promise<R> {
    return this.db.transaction(async (trx) => fn({
      query: async <T>(text: string, params: unknown[] = []) => {
        const result = await trx.query<T>(text, params);
        return { rows: result.rows, rowCount: result.rowCount ?? result.affectedRows ?? result.rows.length };
      },
    }, opening ? ((await trx.exec(opening)).at(-1)?.rows ?? []) as Record<string, unknown>[] : []));
  }

  async close(): Promise<void> {
    await this.db.close();
  }
}
