/** What SCIM keeps about an account beyond `accounts` (migration 020). */
import type { Queryable } from '../store/index.ts';

export interface ScimRecord {
  accountId: string;
  externalId: string | null;
  /** name, emails and the enterprise extension, as last provisioned. */
  attributes: Record<string, unknown>;
  deleted: boolean;
  updatedAt: Date;
}

interface Row { account_id: string; external_id: string | null; attributes: Record<string, unknown>; deleted: boolean; updated_at: Date }

const toRecord = (r: Row): ScimRecord => ({ accountId: r.account_id, externalId: r.external_id, attributes: r.attributes, deleted: r.deleted, updatedAt: r.updated_at });

export class ScimRecords {
  readonly #db: Queryable;

  constructor(db: Queryable) {
    this.#db = db;
  }

  async get(accountId: string): Promise<ScimRecord | undefined> {
    const { rows } = await this.#db.query<Row>('SELECT * FROM scim_users WHERE account_id = $1', [accountId]);
    return rows[0] && toRecord(rows[0]);
  }

  async all(): Promise<Map<string, ScimRecord>> {
    const { rows } = await this.#db.query<Row>('SELECT * FROM scim_users');
    return new Map(rows.map((r) => [r.account_id, toRecord(r)]));
  }

  async save(accountId: string, externalId: string | null, attributes: Record<string, unknown>, deleted = false): Promise<ScimRecord> {
    const { rows } = await this.#db.query<Row>(
      `INSERT INTO scim_users (account_id, external_id, attributes, deleted) VALUES ($1, $2, $3::jsonb, $4)
       ON CONFLICT (account_id) DO UPDATE SET external_id = $2, attributes = $3::jsonb, deleted = $4, updated_at = now() RETURNING *`,
      [accountId, externalId, JSON.stringify(attributes), deleted],
    );
    return toRecord(rows[0]);
  }
}
