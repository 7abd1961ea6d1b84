import { createHash } from 'node:crypto';
import type { Queryable, Sql } from '../store/index.ts';

export interface AuditEntry {
  actor: string;
  action: string;
  subject?: string;
  ip?: string;
  outcome: 'success' | 'failure' | 'denied' | 'info';
  details?: Record<string, unknown>;
}

/** An entry as stored (what readers of the trail get). */
export interface StoredAuditEntry {
  seq: string;
  at: Date;
  actor: string;
  action: string;
  subject: string | null;
  ip: string | null;
  outcome: string;
  details: Record<string, unknown>;
}

interface Row extends StoredAuditEntry {
  prev_hash: string;
  hash: string;
}

const GENESIS = 'genesis';
// Writers from every instance take this lock in turn, so the chain never forks.
const AUDIT_LOCK = 7_411_204;

/** JSON with object keys sorted, so the hash survives jsonb's reordering of keys. */
function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (value && typeof value === 'object') {
    return `{${Object.keys(value).sort().map((k) => `${JSON.stringify(k)}:${canonical((value as Record<string, unknown>)[k])}`).join(',')}}`;
  }
  return JSON.stringify(value ?? null);
}

function entryHash(prev: string, at: string, e: AuditEntry): string {
  const text = canonical([prev, at, e.actor, e.action, e.subject ?? null, e.ip ?? null, e.outcome, e.details ?? {}]);
  return createHash('sha256').update(text).digest('hex');
}

/** Append-only audit trail; every entry is chained to the previous one by hash. */
export class AuditLog {
  readonly #sql: Sql;

  constructor(sql: Sql) {
    this.#sql = sql;
  }

  async append(entry: AuditEntry): Promise<void> {
    await this.appendMany([entry]);
  }

  /** Appends entries in order, in one transaction (one lock, one round of writes). */
  async appendMany(entries: readonly AuditEntry[]): Promise<void> {
    if (entries.length === 0) return;
    await this.#sql.transaction(async (tx: Queryable) => {
      await tx.query('SELECT pg_advisory_xact_lock($1)', [AUDIT_LOCK]);
      const { rows } = await tx.query<{ hash: string }>('SELECT hash FROM audit_log ORDER BY seq DESC LIMIT 1');
      let prev = rows[0]?.hash ?? GENESIS;
      const at = new Date().toISOString();
      const columns: unknown[][] = [[], [], [], [], [], [], [], [], []];
      for (const entry of entries) {
        const hash = entryHash(prev, at, entry);
        const values = [at, entry.actor, entry.action, entry.subject ?? null, entry.ip ?? null, entry.outcome, JSON.stringify(entry.details ?? {}), prev, hash];
        values.forEach((v, i) => columns[i].push(v));
        prev = hash;
      }
      // unnest keeps the order of the arrays, so seq follows the chain.
      await tx.query(
        `INSERT INTO audit_log (at, actor, action, subject, ip, outcome, details, prev_hash, hash)
         SELECT at::timestamptz, actor, action, subject, ip, outcome, details::jsonb, prev_hash, hash
         FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[])
           WITH ORDINALITY AS e(at, actor, action, subject, ip, outcome, details, prev_hash, hash, n) ORDER BY n`,
        columns,
      );
    });
  }

  /** Walks the chain; reports the first entry whose hash or link does not hold. */
  async verify(): Promise<{ ok: boolean; entries: number; brokenAt?: string }> {
    const { rows } = await this.#sql.query<Row>('SELECT * FROM audit_log ORDER BY seq');
    let prev = GENESIS;
    for (const row of rows) {
      const at = new Date(row.at).toISOString();
      const expected = entryHash(prev, at, {
        actor: row.actor, action: row.action, subject: row.subject ?? undefined, ip: row.ip ?? undefined,
        outcome: row.outcome as AuditEntry['outcome'], details: row.details,
      });
      if (row.prev_hash !== prev || row.hash !== expected) return { ok: false, entries: rows.length, brokenAt: String(row.seq) };
      prev = row.hash;
    }
    return { ok: true, entries: rows.length };
  }

  async recent(limit = 100): Promise<Row[]> {
    const { rows } = await this.#sql.query<Row>('SELECT * FROM audit_log ORDER BY seq DESC LIMIT $1', [limit]);
    return rows;
  }
}
