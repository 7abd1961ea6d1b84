/**
 * The durable outbox of Security Event Tokens: an event about an account becomes one row per
 * stream that asked for its type and named that account as a subject, written in the path of the
 * change (the revocation, the credential change…), never from the in-memory bus. The SETs are
 * signed when delivered (push) or polled, so they carry the signing key and `iat` of that moment.
 */
import { randomUUID } from 'node:crypto';
import type { Queryable } from '../store/index.ts';
import type { RevocationEvent, RevocationScope, RevocationSink } from '../sessions/index.ts';
import { caepClaims, EVENT, userSessionSubject, userSubject, type SecurityEvent } from './events.ts';

export interface EventDelivery {
  id: string;
  streamId: string;
  clientId: string;
  jti: string;
  eventType: string;
  status: 'pending' | 'delivered' | 'failed';
  attempts: number;
  lastError: string | null;
  createdAt: Date;
  deliveredAt: Date | null;
}

export class SecurityEventOutbox implements RevocationSink {
  readonly #db: Queryable;
  readonly #issuer: string;
  /** Told after rows were queued (the local push worker starts at once). */
  onQueued: (() => void) | undefined;

  constructor(db: Queryable, issuer: string) {
    this.#db = db;
    this.#issuer = issuer;
  }

  /** Queues each event for the streams that want it, all in one statement, in order; returns how many SETs were queued. */
  async emit(events: SecurityEvent[]): Promise<number> {
    if (events.length === 0) return 0;
    const payloads = events.map((event) => JSON.stringify({
      sub_id: event.subject ?? userSubject(this.#issuer, event.accountId),
      events: { [event.type]: event.claims },
      ...(event.txn ? { txn: event.txn } : {}),
    }));
    const { rowCount: queued } = await this.#db.query(
      `INSERT INTO ssf_events (stream_id, jti, event_type, payload)
       SELECT s.id, replace(gen_random_uuid()::text, '-', ''), e.type, e.payload::jsonb
       FROM unnest($1::text[], $2::text[], $3::text[], $4::text[]) WITH ORDINALITY AS e(type, account_id, payload, client_id, n)
       JOIN ssf_streams s ON e.type = ANY (s.events_delivered) AND s.status <> 'disabled' AND (e.client_id IS NULL OR s.client_id = e.client_id)
       WHERE EXISTS (SELECT 1 FROM ssf_stream_subjects x WHERE x.stream_id = s.id AND x.account_id = e.account_id)
       ORDER BY e.n`,
      [events.map((e) => e.type), events.map((e) => e.accountId), payloads, events.map((e) => e.clientId ?? null)],
    );
    if (queued > 0) this.onQueued?.();
    return queued;
  }

  /**
   * CAEP session-revoked for every revocation that names an account (a client's revocation has no
   * subject), to the receivers it concerns: when every session of the person ended, about the
   * person to every stream following them; otherwise, to each app signed in through an ended
   * session, about that session (the person and the `sid` of the app's ID tokens), and to the apps
   * whose grants ended outside those sessions, about the person; a grant alone, about the person to its app.
   */
  async revoked(event: RevocationEvent, scope: RevocationScope): Promise<void> {
    const accountId = event.accountId;
    if (!accountId) return;
    const claims = caepClaims(event.at, event.initiator, event.reason);
    const txn = randomUUID();
    const about = (extra: Partial<SecurityEvent>): SecurityEvent => ({ type: EVENT.sessionRevoked, accountId, txn, claims, ...extra });
    let events: SecurityEvent[];
    if (scope.everySession) {
      events = [about({})];
    } else if (event.kind === 'grant') {
      events = event.clients.length ? event.clients.map((clientId) => about({ clientId })) : [about({})];
    } else {
      events = scope.signedOut.map((n) => about({ clientId: n.clientId, subject: userSessionSubject(this.#issuer, accountId, n.sid) }));
      // Apps whose grant of the person ended outside those sessions: about the person, to them alone.
      const told = new Set(scope.signedOut.map((n) => n.clientId));
      for (const clientId of scope.grantClients ?? []) if (!told.has(clientId)) events.push(about({ clientId }));
    }
    await this.emit(events);
  }

  /** The SSF verification event, for one stream (its subject is the stream itself). */
  async verification(streamId: string, state: string | undefined): Promise<void> {
    const payload = {
      sub_id: { format: 'opaque', id: streamId },
      events: { [EVENT.verification]: state === undefined ? {} : { state } },
    };
    await this.#db.query(
      `INSERT INTO ssf_events (stream_id, jti, event_type, payload)
       SELECT id, replace(gen_random_uuid()::text, '-', ''), $2, $3::jsonb FROM ssf_streams WHERE id = $1 AND status <> 'disabled'`,
      [streamId, EVENT.verification, JSON.stringify(payload)],
    );
    this.onQueued?.();
  }

  /** SETs queued since `sinceMs`, by delivery status (the admin overview). */
  async counts(sinceMs: number): Promise<Record<EventDelivery['status'], number>> {
    const { rows } = await this.#db.query<{ status: EventDelivery['status']; n: string }>(
      'SELECT status, count(*) AS n FROM ssf_events WHERE created_at >= $1 GROUP BY status', [new Date(sinceMs).toISOString()],
    );
    const counts = { pending: 0, delivered: 0, failed: 0 };
    for (const r of rows) counts[r.status] = Number(r.n);
    return counts;
  }

  /** Newest first, before the row `before` when given (paging); for administrators (failed deliveries). */
  async list(options: { status?: EventDelivery['status']; clientId?: string; limit?: number; before?: string } = {}): Promise<EventDelivery[]> {
    const { rows } = await this.#db.query<{
      id: string; stream_id: string; client_id: string; jti: string; event_type: string; status: EventDelivery['status'];
      attempts: number; last_error: string | null; created_at: Date; delivered_at: Date | null;
    }>(
      `SELECT e.id, e.stream_id, s.client_id, e.jti, e.event_type, e.status, e.attempts, e.last_error, e.created_at, e.delivered_at
       FROM ssf_events e JOIN ssf_streams s ON s.id = e.stream_id
       WHERE ($1::text IS NULL OR e.status = $1) AND ($2::text IS NULL OR s.client_id = $2) AND ($4::bigint IS NULL OR e.id < $4)
       ORDER BY e.id DESC LIMIT $3`,
      [options.status ?? null, options.clientId ?? null, Math.min(options.limit ?? 50, 500), options.before ?? null],
    );
    return rows.map((r) => ({
      id: String(r.id), streamId: r.stream_id, clientId: r.client_id, jti: r.jti, eventType: r.event_type, status: r.status, attempts: r.attempts,
      lastError: r.last_error, createdAt: new Date(r.created_at), deliveredAt: r.delivered_at ? new Date(r.delivered_at) : null,
    }));
  }
}
