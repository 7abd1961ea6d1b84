import { createHash } from 'node:crypto';
import { jsonRowsParameter, storableJson, type Queryable, type Sql } from '../store/index.ts';

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
  // As JSON.stringify does (a Date becomes its ISO text, not {}).
  if (value && typeof (value as { toJSON?: unknown }).toJSON === 'function') return canonical((value as { toJSON: () => unknown }).toJSON());
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (value && typeof value === 'object') {
    return `{${Object.keys(value).sort().map((k) => `${JSON.stringify(k)}:${canonical((value as Record<string, unknown>)[k])}`).join(',')}}`;
  }
  return JSON.stringify(value ?? null);
}

/**
 * An entry as it waits to be appended: the canonical JSON of its fields after the chain's two
 * (`"actor","action",subject,ip,"outcome",{details}` — a JSON array's items). Its hash covers
 * `[prev,at,` + these + `]`, and it is stored as these items after `at`, `prev_hash` and `hash`.
 * What Postgres's text cannot hold (a NUL, a lone surrogate) is replaced first, so what is hashed is what is stored.
 */
export type PreparedAuditEntry = string;

export function prepareAuditEntry(e: AuditEntry): PreparedAuditEntry {
  return storableJson([e.actor, e.action, e.subject ?? null, e.ip ?? null, e.outcome, e.details ?? {}], canonical).slice(1, -1);
}

/** `atJson`: the entry's time as JSON text (a batch shares one). */
function entryHash(prev: string, atJson: string, fields: PreparedAuditEntry): string {
  return createHash('sha256').update(`[${JSON.stringify(prev)},${atJson},${fields}]`).digest('hex');
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
    await this.appendPrepared(entries.map(prepareAuditEntry));
  }

  /** Appends entries given as `prepareAuditEntry` made them, in order, in one transaction. */
  async appendPrepared(entries: readonly PreparedAuditEntry[]): Promise<void> {
    if (entries.length === 0) return;
    await this.#sql.transaction(async (tx: Queryable) => {
      await tx.query('SELECT pg_advisory_xact_lock($1)', [AUDIT_LOCK]);
      const { rows } = await tx.query<{ hash: string }>('SELECT hash FROM audit_log ORDER BY seq DESC LIMIT 1');
      let prev = rows[0]?.hash ?? GENESIS;
      const at = JSON.stringify(new Date().toISOString());
      const stored: string[] = [];
      for (const fields of entries) {
        const hash = entryHash(prev, at, fields);
        stored.push(`[${at},${JSON.stringify(prev)},${JSON.stringify(hash)},${fields}]`);
        prev = hash;
      }
      // Ordinality keeps the order of the array, so seq follows the chain.
      await tx.query(
        `INSERT INTO audit_log (at, prev_hash, hash, actor, action, subject, ip, outcome, details)
         SELECT (e->>0)::timestamptz, e->>1, e->>2, e->>3, e->>4, e->>5, e->>6, e->>7, (e->8)::jsonb
         FROM json_array_elements($1::json) WITH ORDINALITY AS x(e, n) ORDER BY n`,
        [jsonRowsParameter(stored)],
      );
    });
  }

  /** Walks the chain; reports the first entry whose hash or link does not hold. */
  async verify(): Promise<{ ok: boolean; entries: number; brokenAt?: string }> {
    const { rows } = await this.#sql.query<Row>('SELECT * FROM audit_log ORDER BY seq');
    let prev = GENESIS;
    for (const row of rows) {
      const at = JSON.stringify(new Date(row.at).toISOString());
      const expected = entryHash(prev, at, prepareAuditEntry({
        actor: row.actor, action: row.action, subject: row.subject ?? undefined, ip: row.ip ?? undefined,
        outcome: row.outcome as AuditEntry['outcome'], details: row.details,
      }));
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
