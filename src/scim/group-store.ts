/** Groups and their members as SCIM stores them (migration 020). */
import { randomUUID } from 'node:crypto';
import type { Queryable } from '../store/index.ts';

export interface GroupRecord {
  id: string;
  displayName: string;
  externalId: string | null;
  /** Account ids with their email (the member's `display`), in email order. */
  members: Array<{ accountId: string; email: string }>;
  createdAt: Date;
  updatedAt: Date;
}

interface Row { id: string; display_name: string; external_id: string | null; created_at: Date; updated_at: Date; members: Array<{ accountId: string; email: string }> | null }

const SELECT = `SELECT g.*, (SELECT json_agg(json_build_object('accountId', a.id, 'email', a.email) ORDER BY lower(a.email))
  FROM scim_group_members m JOIN accounts a ON a.id = m.account_id WHERE m.group_id = g.id) AS members FROM scim_groups g`;

const toRecord = (r: Row): GroupRecord => ({
  id: r.id, displayName: r.display_name, externalId: r.external_id, members: r.members ?? [], createdAt: r.created_at, updatedAt: r.updated_at,
});

/** The display name is taken (unique regardless of case). */
export class GroupNameTaken extends Error {}

export class ScimGroups {
  readonly #db: Queryable;

  constructor(db: Queryable) {
    this.#db = db;
  }

  async get(id: string): Promise<GroupRecord | undefined> {
    const { rows } = await this.#db.query<Row>(`${SELECT} WHERE g.id = $1`, [id]);
    return rows[0] && toRecord(rows[0]);
  }

  async list(): Promise<GroupRecord[]> {
    const { rows } = await this.#db.query<Row>(`${SELECT} ORDER BY g.created_at, g.id`);
    return rows.map(toRecord);
  }

  /** The display names of the groups an account is in. */
  async namesOf(accountId: string): Promise<string[]> {
    const { rows } = await this.#db.query<{ display_name: string }>(
      'SELECT g.display_name FROM scim_groups g JOIN scim_group_members m ON m.group_id = g.id WHERE m.account_id = $1', [accountId]);
    return rows.map((r) => r.display_name);
  }

  /** Those of `ids` that are accounts. */
  async existingAccounts(ids: string[]): Promise<Set<string>> {
    const { rows } = await this.#db.query<{ id: string }>('SELECT id FROM accounts WHERE id = ANY($1::text[])', [ids]);
    return new Set(rows.map((r) => r.id));
  }

  /** Creates (id undefined) or replaces a group with exactly `members`; the ids of accounts whose membership changed. */
  async save(id: string | undefined, displayName: string, externalId: string | null, members: string[]): Promise<{ id: string; changed: string[] }> {
    const groupId = id ?? randomUUID();
    try {
      const { rows } = await this.#db.query<{ account_id: string }>(
        `WITH g AS (
           INSERT INTO scim_groups (id, display_name, external_id) VALUES ($1, $2, $3)
           ON CONFLICT (id) DO UPDATE SET display_name = $2, external_id = $3, updated_at = now() RETURNING id
         ), gone AS (
           DELETE FROM scim_group_members WHERE group_id = $1 AND NOT (account_id = ANY($4::text[])) RETURNING account_id
         ), added AS (
           INSERT INTO scim_group_members (group_id, account_id) SELECT g.id, x FROM g, unnest($4::text[]) AS x ON CONFLICT DO NOTHING RETURNING account_id
         )
         SELECT account_id FROM gone UNION SELECT account_id FROM added`,
        [groupId, displayName, externalId, [...new Set(members)]],
      );
      return { id: groupId, changed: rows.map((r) => r.account_id) };
    } catch (err) {
      if ((err as { code?: string }).code === '23505') throw new GroupNameTaken();
      throw err;
    }
  }

  /** Deletes the group; its members' account ids. */
  async remove(id: string): Promise<string[]> {
    const { rows } = await this.#db.query<{ account_id: string }>(
      `WITH m AS (SELECT account_id FROM scim_group_members WHERE group_id = $1), d AS (DELETE FROM scim_groups WHERE id = $1)
       SELECT account_id FROM m`, [id]);
    return rows.map((r) => r.account_id);
  }
}
