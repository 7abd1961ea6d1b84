import { z } from 'zod';
import type { Queryable } from '../store/index.ts';

export interface ResourceServer {
  identifier: string;
  clientId: string;
  scopes: string[];
  tokenFormat: 'jwt' | 'opaque';
  accessTokenTtl?: number;
}

interface Row {
  identifier: string;
  client_id: string;
  scopes: string[];
  token_format: 'jwt' | 'opaque';
  access_token_ttl: number | null;
}

export const resourceIdentifierSchema = z.string().max(2048).refine((s) => {
  const url = URL.parse(s);
  return url !== null && !url.hash && (url.protocol === 'https:' || url.protocol === 'http:' || url.protocol === 'urn:');
}, 'must be an absolute https, http or urn URI without a fragment (RFC 8707)');

export const scopeTokenSchema = z.string().regex(/^[\x21\x23-\x5B\x5D-\x7E]+$/, 'scope tokens are printable ASCII without spaces, quotes or backslashes');

const toResourceServer = (row: Row): ResourceServer => ({
  identifier: row.identifier,
  clientId: row.client_id,
  scopes: row.scopes,
  tokenFormat: row.token_format,
  accessTokenTtl: row.access_token_ttl ?? undefined,
});

/** Registered resource servers (RFC 8707 resource indicators), cached briefly in-process. */
export class ResourceServerStore {
  readonly #db: Queryable;
  readonly #cache = new Map<string, { value: ResourceServer | undefined; until: number }>();

  constructor(db: Queryable) {
    this.#db = db;
  }

  /** Registers a new resource server; an identifier already taken is an error. */
  register(rs: ResourceServer): Promise<void> {
    return this.#write(rs, 'NOTHING');
  }

  /** Registers a built-in resource server, or brings its registration up to date. */
  ensure(rs: ResourceServer): Promise<void> {
    return this.#write(rs, `UPDATE SET client_id = EXCLUDED.client_id, scopes = EXCLUDED.scopes,
      token_format = EXCLUDED.token_format, access_token_ttl = EXCLUDED.access_token_ttl`);
  }

  async #write(rs: ResourceServer, onConflict: string): Promise<void> {
    const { rowCount } = await this.#db.query(
      `INSERT INTO resource_servers (identifier, client_id, scopes, token_format, access_token_ttl) VALUES ($1, $2, $3, $4, $5)
       ON CONFLICT (identifier) DO ${onConflict}`,
      [rs.identifier, rs.clientId, rs.scopes, rs.tokenFormat, rs.accessTokenTtl ?? null],
    );
    if (rowCount === 0) throw new Error(`resource server ${rs.identifier} is already registered`);
    this.#cache.delete(rs.identifier);
  }

  /** The resource server a client is (a client is at most one), read from the database. */
  async forClient(clientId: string): Promise<ResourceServer | undefined> {
    const { rows } = await this.#db.query<Row>('SELECT * FROM resource_servers WHERE client_id = $1 ORDER BY identifier LIMIT 1', [clientId]);
    return rows[0] && toResourceServer(rows[0]);
  }

  async find(identifier: string): Promise<ResourceServer | undefined> {
    const hit = this.#cache.get(identifier);
    if (hit && hit.until > Date.now()) return hit.value;
    const { rows } = await this.#db.query<Row>('SELECT * FROM resource_servers WHERE identifier = $1', [identifier]);
    const value = rows[0] && toResourceServer(rows[0]);
    this.#cache.set(identifier, { value, until: Date.now() + 30_000 });
    return value;
  }
}
