/**
 * Long-lived provisioning tokens (migration 021) for identity providers that send a static bearer
 * token (Entra ID's and Okta's "secret token"). Only the hash is stored; 256 random bits make it a
 * safe lookup key. The `vgs_` prefix lets secret scanners spot a leaked one.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { sha256 } from '../crypto/index.ts';
import type { Queryable } from '../store/index.ts';

export const PROVISIONING_TOKEN_PREFIX = 'vgs_';
const TOKEN_PATTERN = /^vgs_[A-Za-z0-9_-]{43}$/;

export interface ProvisioningToken {
  id: string;
  clientId: string;
  createdAt: Date;
  expiresAt: Date;
  lastUsedAt: Date | null;
  revokedAt: Date | null;
}

interface Row { id: string; client_id: string; created_at: Date; expires_at: Date; last_used_at: Date | null; revoked_at: Date | null }

const COLUMNS = 'id, client_id, created_at, expires_at, last_used_at, revoked_at';
const toToken = (r: Row): ProvisioningToken => ({
  id: r.id, clientId: r.client_id, createdAt: r.created_at, expiresAt: r.expires_at, lastUsedAt: r.last_used_at, revokedAt: r.revoked_at,
});

/** Whether a bearer token is meant as a provisioning token (rather than an access token). */
export const isProvisioningToken = (token: string) => token.startsWith(PROVISIONING_TOKEN_PREFIX);

export class ProvisioningTokens {
  readonly #db: Queryable;

  constructor(db: Queryable) {
    this.#db = db;
  }

  /** A new token for `clientId`, valid `days` days; the token itself is returned only here. */
  async create(clientId: string, days: number): Promise<{ token: string; record: ProvisioningToken }> {
    const token = PROVISIONING_TOKEN_PREFIX + randomBytes(32).toString('base64url');
    const { rows } = await this.#db.query<Row>(
      `INSERT INTO scim_tokens (id, client_id, token_hash, expires_at) VALUES ($1, $2, $3, now() + make_interval(days => $4::int)) RETURNING ${COLUMNS}`,
      [randomUUID(), clientId, sha256(token), days]);
    return { token, record: toToken(rows[0]) };
  }

  async list(): Promise<ProvisioningToken[]> {
    const { rows } = await this.#db.query<Row>(`SELECT ${COLUMNS} FROM scim_tokens ORDER BY created_at, id`);
    return rows.map(toToken);
  }

  /** Revokes a live or expired token; undefined when there is none with this id. */
  async revoke(id: string): Promise<ProvisioningToken | undefined> {
    const { rows } = await this.#db.query<Row>(
      `UPDATE scim_tokens SET revoked_at = coalesce(revoked_at, now()) WHERE id = $1 RETURNING ${COLUMNS}`, [id]);
    return rows[0] && toToken(rows[0]);
  }

  /** The client a live token acts as (its last use noted, at most once a minute), or undefined. */
  async use(token: string): Promise<string | undefined> {
    if (!TOKEN_PATTERN.test(token)) return undefined;
    const { rows } = await this.#db.query<{ client_id: string; last_used_at: Date | null }>(
      'SELECT client_id, last_used_at FROM scim_tokens WHERE token_hash = $1 AND revoked_at IS NULL AND expires_at > now()', [sha256(token)]);
    const found = rows[0];
    if (!found) return undefined;
    if (!found.last_used_at || Date.now() - found.last_used_at.getTime() > 60_000) {
      await this.#db.query('UPDATE scim_tokens SET last_used_at = now() WHERE token_hash = $1', [sha256(token)]);
    }
    return found.client_id;
  }
}

/** What `vigil scim-token list` and `create --json` show of a token (never the token). */
export function provisioningTokenView(t: ProvisioningToken, now = new Date()) {
  const status = t.revokedAt ? 'revoked' : t.expiresAt <= now ? 'expired' : 'active';
  return {
    id: t.id, client_id: t.clientId, status, created_at: t.createdAt.toISOString(), expires_at: t.expiresAt.toISOString(),
    last_used_at: t.lastUsedAt?.toISOString() ?? null, revoked_at: t.revokedAt?.toISOString() ?? null,
  };
}
