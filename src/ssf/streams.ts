/** Event streams (SSF 1.0 §8), a few per relying party, and the subjects each asked for (SQL). */
import { randomBytes } from 'node:crypto';
import type { KeyRing } from '../crypto/index.ts';
import type { Queryable } from '../store/index.ts';
import { EVENTS_SUPPORTED, POLL_METHOD, PUSH_METHOD } from './events.ts';

export type StreamStatus = 'enabled' | 'paused' | 'disabled';

export interface Stream {
  id: string;
  clientId: string;
  /** The SETs' `aud`: one value or more. */
  audience: string[];
  method: typeof PUSH_METHOD | typeof POLL_METHOD;
  /** Push: the receiver's endpoint. */
  endpointUrl: string | null;
  hasAuthorization: boolean;
  eventsRequested: string[];
  eventsDelivered: string[];
  description: string | null;
  status: StreamStatus;
  statusReason: string | null;
  lastVerificationAt: Date | null;
}

interface Row {
  id: string;
  client_id: string;
  audience: string[];
  delivery_method: Stream['method'];
  endpoint_url: string | null;
  authorization_sealed: string | null;
  events_requested: string[];
  events_delivered: string[];
  description: string | null;
  status: StreamStatus;
  status_reason: string | null;
  last_verification_at: Date | null;
}

const fromRow = (r: Row): Stream => ({
  id: r.id, clientId: r.client_id, audience: r.audience, method: r.delivery_method, endpointUrl: r.endpoint_url,
  hasAuthorization: r.authorization_sealed !== null, eventsRequested: r.events_requested, eventsDelivered: r.events_delivered,
  description: r.description, status: r.status, statusReason: r.status_reason,
  lastVerificationAt: r.last_verification_at ? new Date(r.last_verification_at) : null,
});

/** What a receiver sets (the rest is the transmitter's). */
export interface StreamSettings {
  method: Stream['method'];
  endpointUrl?: string;
  /** Push: the Authorization header value Vigil sends (sealed at rest). */
  authorizationHeader?: string;
  eventsRequested: string[];
  description?: string;
  /** The SETs' audience (the client id when not chosen). */
  audience: string[];
}

/** Streams a client may have at once. */
export const MAX_STREAMS_PER_CLIENT = 5;

/** A push that did not go through, as the stream's receiver sees it. */
export interface DeliveryError {
  error: string;
  status: 'retrying' | 'failed';
  attempts: number;
  nextAttemptAt?: Date;
}

export class StreamLimitError extends Error {
  override name = 'StreamLimitError';
}

/** events_delivered = events_requested ∩ events_supported. */
export const deliveredOf = (requested: string[]) => EVENTS_SUPPORTED.filter((e) => requested.includes(e));

export class StreamStore {
  readonly #db: Queryable;
  readonly #keys: KeyRing;

  constructor(db: Queryable, keys: KeyRing) {
    this.#db = db;
    this.#keys = keys;
  }

  #seal(id: string, header: string | undefined): string | null {
    return header === undefined ? null : this.#keys.seal(header, `ssf_authorization:${id}`);
  }

  /** A new stream of the client; StreamLimitError when it has MAX_STREAMS_PER_CLIENT already. */
  async create(clientId: string, settings: StreamSettings): Promise<Stream> {
    const id = `ssf_${randomBytes(16).toString('base64url')}`;
    const { rows } = await this.#db.query<Row>(
      `INSERT INTO ssf_streams (id, client_id, audience, delivery_method, endpoint_url, authorization_sealed, events_requested, events_delivered, description)
       SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9 WHERE (SELECT count(*) FROM ssf_streams WHERE client_id = $2) < $10 RETURNING *`,
      [id, clientId, settings.audience, settings.method, settings.endpointUrl ?? null, this.#seal(id, settings.authorizationHeader),
        settings.eventsRequested, deliveredOf(settings.eventsRequested), settings.description ?? null, MAX_STREAMS_PER_CLIENT],
    );
    if (!rows[0]) throw new StreamLimitError(`a client may have at most ${MAX_STREAMS_PER_CLIENT} event streams: delete one first`);
    return fromRow(rows[0]);
  }

  /** The client's stream with this id (another client's reads as none). */
  async find(clientId: string, id: string): Promise<Stream | undefined> {
    const { rows } = await this.#db.query<Row>('SELECT * FROM ssf_streams WHERE id = $1 AND client_id = $2', [id, clientId]);
    return rows[0] && fromRow(rows[0]);
  }

  async listFor(clientId: string): Promise<Stream[]> {
    const { rows } = await this.#db.query<Row>('SELECT * FROM ssf_streams WHERE client_id = $1 ORDER BY created_at', [clientId]);
    return rows.map(fromRow);
  }

  /** By id alone: for delivery. */
  async byId(id: string): Promise<(Stream & { authorizationHeader?: string }) | undefined> {
    const { rows } = await this.#db.query<Row>('SELECT * FROM ssf_streams WHERE id = $1', [id]);
    const row = rows[0];
    if (!row) return undefined;
    return {
      ...fromRow(row),
      ...(row.authorization_sealed ? { authorizationHeader: this.#keys.open(row.authorization_sealed, `ssf_authorization:${row.id}`) } : {}),
    };
  }

  /** Replaces what the receiver sets; undefined when the client has no such stream. */
  async update(clientId: string, id: string, settings: StreamSettings): Promise<Stream | undefined> {
    const { rows } = await this.#db.query<Row>(
      `UPDATE ssf_streams SET delivery_method = $3, endpoint_url = $4, authorization_sealed = $5, events_requested = $6, events_delivered = $7,
         description = $8, audience = $9, updated_at = now() WHERE id = $1 AND client_id = $2 RETURNING *`,
      [id, clientId, settings.method, settings.endpointUrl ?? null, this.#seal(id, settings.authorizationHeader),
        settings.eventsRequested, deliveredOf(settings.eventsRequested), settings.description ?? null, settings.audience],
    );
    return rows[0] && fromRow(rows[0]);
  }

  async remove(clientId: string, id: string): Promise<boolean> {
    const { rowCount } = await this.#db.query('DELETE FROM ssf_streams WHERE id = $1 AND client_id = $2', [id, clientId]);
    return rowCount > 0;
  }

  async setStatus(clientId: string, id: string, status: StreamStatus, reason: string | undefined): Promise<Stream | undefined> {
    const { rows } = await this.#db.query<Row>(
      'UPDATE ssf_streams SET status = $3, status_reason = $4, updated_at = now() WHERE id = $1 AND client_id = $2 RETURNING *',
      [id, clientId, status, reason ?? null],
    );
    // A disabled stream drops what it was owed (SSF 1.0 §8.1.2): nothing is held for it.
    if (rows[0] && status === 'disabled') await this.#db.query("DELETE FROM ssf_events WHERE stream_id = $1 AND status = 'pending'", [id]);
    return rows[0] && fromRow(rows[0]);
  }

  /**
   * The stream's latest delivery failure that no later delivery followed: the SET still retried
   * (`retrying`, with its next attempt) or given up (`failed`). Undefined when deliveries succeed.
   */
  async lastDeliveryError(streamId: string): Promise<DeliveryError | undefined> {
    const { rows } = await this.#db.query<{ last_error: string; status: 'pending' | 'failed'; next_attempt_at: Date; attempts: number }>(
      `SELECT e.last_error, e.status, e.next_attempt_at, e.attempts FROM ssf_events e
       WHERE e.stream_id = $1 AND e.last_error IS NOT NULL AND e.status <> 'delivered'
         AND NOT EXISTS (SELECT 1 FROM ssf_events d WHERE d.stream_id = e.stream_id AND d.status = 'delivered' AND d.id > e.id)
       ORDER BY e.id DESC LIMIT 1`,
      [streamId],
    );
    const row = rows[0];
    if (!row) return undefined;
    return {
      error: row.last_error, status: row.status === 'failed' ? 'failed' : 'retrying', attempts: row.attempts,
      ...(row.status === 'pending' ? { nextAttemptAt: new Date(row.next_attempt_at) } : {}),
    };
  }

  async addSubject(streamId: string, accountId: string): Promise<void> {
    await this.#db.query('INSERT INTO ssf_stream_subjects (stream_id, account_id) VALUES ($1, $2) ON CONFLICT DO NOTHING', [streamId, accountId]);
  }

  async removeSubject(streamId: string, accountId: string): Promise<void> {
    await this.#db.query('DELETE FROM ssf_stream_subjects WHERE stream_id = $1 AND account_id = $2', [streamId, accountId]);
  }

  /**
   * Verification events may be asked for at most every `minSeconds` (SSF 1.0 §8.1.4.2: 429
   * otherwise); true when this request is allowed (and recorded).
   */
  async markVerification(streamId: string, minSeconds: number): Promise<boolean> {
    const { rowCount } = await this.#db.query(
      `UPDATE ssf_streams SET last_verification_at = now() WHERE id = $1
       AND (last_verification_at IS NULL OR last_verification_at <= now() - make_interval(secs => $2))`,
      [streamId, minSeconds],
    );
    return rowCount > 0;
  }
}
