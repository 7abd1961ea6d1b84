import { hash } from 'node:crypto';
import { ADVISORY_LOCKS, jsonRowsParameter, storableJson, type Queryable, type Sql } from '../store/index.ts';
import { constantTimeEqual, type KeyRing } from '../crypto/index.ts';

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
  return hash('sha256', `[${JSON.stringify(prev)},${atJson},${fields}]`, 'hex');
}

interface CheckpointRow {
  id: string;
  created_at: Date;
  last_removed_seq: string;
  last_removed_hash: string;
  removed: string;
  removed_before: Date;
  mac: string;
}

export interface AuditVerification {
  ok: boolean;
  /** Entries kept (and checked). */
  entries: number;
  /** The first entry (or checkpoint, `checkpoint <id>`) whose hash, link or MAC does not hold. */
  brokenAt?: string;
  /** Entries removed by retention, when any were: the kept part is checked from the last removed one. */
  removed?: number;
}

/** Entries read at a time when walking the chain, and removed at a time by retention. */
const PAGE = 5_000;
const MAC_PURPOSE = 'audit-checkpoint';

function checkpointText(c: Pick<CheckpointRow, 'created_at' | 'last_removed_seq' | 'last_removed_hash' | 'removed' | 'removed_before'>): string {
  return JSON.stringify([new Date(c.created_at).toISOString(), String(c.last_removed_seq), c.last_removed_hash, String(c.removed), new Date(c.removed_before).toISOString()]);
}

/**
 * Append-only audit trail; every entry is chained to the previous one by hash. Retention removes
 * its oldest part and leaves a MACed checkpoint, from which the kept part is checked.
 */
export class AuditLog {
  readonly #sql: Sql;
  readonly #keys: KeyRing;

  constructor(sql: Sql, keys: KeyRing) {
    this.#sql = sql;
    this.#keys = keys;
  }

  async append(entry: AuditEntry): Promise<void> {
    await this.appendMany([entry]);
  }

  /** Appends entries in order, in one transaction (one lock, one round of writes). */
  async appendMany(entries: readonly AuditEntry[]): Promise<void> {
    await this.appendPrepared(entries.map(prepareAuditEntry));
  }

  /** Appends entries given as `prepareAuditEntry` made them, in order, in one transaction. `now`: for tests of old entries. */
  async appendPrepared(entries: readonly PreparedAuditEntry[], now = new Date()): Promise<void> {
    if (entries.length === 0) return;
    // The lock and the read of the chain's end go with BEGIN (one round trip); the read is a
    // statement of its own, so that its snapshot is taken once the lock is held.
    await this.#sql.transaction(async (tx: Queryable, [last]) => {
      let prev = (last?.hash as string | undefined) ?? GENESIS;
      const at = JSON.stringify(now.toISOString());
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
    }, `SELECT pg_advisory_xact_lock(${ADVISORY_LOCKS.auditAppend}); SELECT hash FROM audit_log ORDER BY seq DESC LIMIT 1`);
  }

  /**
   * Walks the chain, a page at a time; reports the first entry whose hash or link does not hold.
   * Past a retention removal, the walk starts at the last removed entry its latest checkpoint names;
   * every checkpoint's MAC must hold.
   */
  async verify(page = PAGE): Promise<AuditVerification> {
    const { rows: checkpoints } = await this.#sql.query<CheckpointRow>('SELECT * FROM audit_checkpoints ORDER BY id');
    for (const c of checkpoints) {
      if (!constantTimeEqual(c.mac, this.#keys.mac(MAC_PURPOSE, checkpointText(c)))) return { ok: false, entries: 0, brokenAt: `checkpoint ${c.id}` };
    }
    const latest = checkpoints.at(-1);
    let prev = latest?.last_removed_hash ?? GENESIS;
    let after = latest?.last_removed_seq ?? '0';
    let entries = 0;
    const removed = checkpoints.length ? { removed: checkpoints.reduce((sum, c) => sum + Number(c.removed), 0) } : {};
    for (;;) {
      const { rows } = await this.#sql.query<Row>('SELECT * FROM audit_log WHERE seq > $1 ORDER BY seq LIMIT $2', [after, page]);
      for (const row of rows) {
        const at = JSON.stringify(new Date(row.at).toISOString());
        const expected = entryHash(prev, at, prepareAuditEntry({
          actor: row.actor, action: row.action, subject: row.subject ?? undefined, ip: row.ip ?? undefined,
          outcome: row.outcome as AuditEntry['outcome'], details: row.details,
        }));
        if (row.prev_hash !== prev || row.hash !== expected) return { ok: false, entries: entries + rows.length, brokenAt: String(row.seq), ...removed };
        prev = row.hash;
      }
      entries += rows.length;
      if (rows.length < page) return { ok: true, entries, ...removed };
      after = rows.at(-1)!.seq;
    }
  }

  /**
   * Removes the entries written before `before`, oldest first, at most a page per transaction (the
   * token path's appends do not wait on it), each removal leaving its checkpoint. The newest entry
   * always stays: the next append links to it. How many it removed.
   */
  async removeBefore(before: Date, now = new Date(), page = PAGE): Promise<number> {
    let total = 0;
    for (;;) {
      const removed = await this.#sql.transaction(async (tx: Queryable) => {
        // One instance removes at a time (the others skip this round); appends do not wait on it.
        const { rows: [turn] } = await tx.query<{ ok: boolean }>('SELECT pg_try_advisory_xact_lock($1) AS ok', [ADVISORY_LOCKS.auditRetention]);
        if (!turn?.ok) return 0;
        // The first entry to keep: the oldest at or after the cut-off, or else the newest.
        const { rows: [keep] } = await tx.query<{ seq: string }>(
          `SELECT seq FROM (SELECT seq FROM audit_log WHERE at >= $1 ORDER BY at, seq LIMIT 1) newer
           UNION ALL SELECT max(seq) FROM audit_log ORDER BY seq LIMIT 1`, [before.toISOString()]);
        if (!keep?.seq) return 0;
        const { rows: [last] } = await tx.query<{ seq: string; hash: string; n: string }>(
          `SELECT seq, hash, n FROM (SELECT seq, hash, count(*) OVER () AS n FROM
             (SELECT seq, hash FROM audit_log WHERE seq < $1 ORDER BY seq LIMIT $2) page) counted
           ORDER BY seq DESC LIMIT 1`, [keep.seq, page]);
        if (!last) return 0;
        await tx.query("SELECT set_config('vigil.audit_retention', 'on', true)");
        await tx.query('DELETE FROM audit_log WHERE seq <= $1', [last.seq]);
        const checkpoint = { created_at: now, last_removed_seq: last.seq, last_removed_hash: last.hash, removed: last.n, removed_before: before };
        await tx.query(
          'INSERT INTO audit_checkpoints (created_at, last_removed_seq, last_removed_hash, removed, removed_before, mac) VALUES ($1, $2, $3, $4, $5, $6)',
          [now.toISOString(), last.seq, last.hash, last.n, before.toISOString(), this.#keys.mac(MAC_PURPOSE, checkpointText(checkpoint))],
        );
        return Number(last.n);
      });
      total += removed;
      if (removed < page) return total;
    }
  }

  async recent(limit = 100): Promise<Row[]> {
    const { rows } = await this.#sql.query<Row>('SELECT * FROM audit_log ORDER BY seq DESC LIMIT $1', [limit]);
    return rows;
  }
}
