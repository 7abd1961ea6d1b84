/**
 * Back-channel logout delivery (OpenID Back-Channel Logout 1.0) from a durable queue: a
 * revocation queues one row per relying party of each ended session and returns; the worker of
 * any instance sends the logout token (signed by oidc-provider with Vigil's keys, through its
 * SSRF-guarded fetch), retries with exponential backoff, and gives up after `maxAttempts`,
 * leaving the failure for the admin console.
 */
import type Provider from 'oidc-provider';
import type { Logger } from '../observability/index.ts';
import type { AdapterFactory, Queryable } from '../store/index.ts';
import type { LogoutNotice, LogoutQueue } from './revocation.ts';
import { OutboxWorker, PermanentDeliveryError, type DeliveryOptions } from './outbox-worker.ts';

export interface LogoutDelivery {
  id: string;
  clientId: string;
  accountId: string;
  sessionUid: string;
  sid: string;
  status: 'pending' | 'delivered' | 'failed';
  attempts: number;
  nextAttemptAt: Date;
  lastError: string | null;
  createdAt: Date;
  deliveredAt: Date | null;
}

interface Row {
  id: string;
  client_id: string;
  account_id: string;
  session_uid: string;
  sid: string;
  status: LogoutDelivery['status'];
  attempts: number;
  next_attempt_at: Date;
  last_error: string | null;
  created_at: Date;
  delivered_at: Date | null;
}

const fromRow = (r: Row): LogoutDelivery => ({
  id: String(r.id), clientId: r.client_id, accountId: r.account_id, sessionUid: r.session_uid, sid: r.sid, status: r.status,
  attempts: r.attempts, nextAttemptAt: new Date(r.next_attempt_at), lastError: r.last_error, createdAt: new Date(r.created_at),
  deliveredAt: r.delivered_at ? new Date(r.delivered_at) : null,
});

/** Queues logout tokens for the relying parties that registered a back-channel logout URI. */
export class LogoutOutbox implements LogoutQueue {
  readonly #db: Queryable;
  readonly #adapters: AdapterFactory;
  /** Told after rows were queued (the local worker starts at once instead of at its next poll). */
  onQueued: (() => void) | undefined;

  constructor(db: Queryable, adapters: AdapterFactory) {
    this.#db = db;
    this.#adapters = adapters;
  }

  async enqueue(notices: LogoutNotice[]): Promise<void> {
    const clients = new Map<string, boolean>();
    for (const n of notices) {
      if (!clients.has(n.clientId)) {
        const metadata = await this.#adapters.for('Client').find(n.clientId);
        clients.set(n.clientId, typeof metadata?.backchannel_logout_uri === 'string');
      }
    }
    const owed = notices.filter((n) => clients.get(n.clientId));
    if (owed.length === 0) return;
    await this.#db.query(
      `INSERT INTO backchannel_logouts (client_id, account_id, session_uid, sid)
       SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[])`,
      [owed.map((n) => n.clientId), owed.map((n) => n.accountId), owed.map((n) => n.sessionUid), owed.map((n) => n.sid)],
    );
    this.onQueued?.();
  }

  /** Newest first; `status` filters. */
  async list(options: { status?: LogoutDelivery['status']; clientId?: string; limit?: number } = {}): Promise<LogoutDelivery[]> {
    const { rows } = await this.#db.query<Row>(
      `SELECT * FROM backchannel_logouts WHERE ($1::text IS NULL OR status = $1) AND ($2::text IS NULL OR client_id = $2)
       ORDER BY created_at DESC, id DESC LIMIT $3`,
      [options.status ?? null, options.clientId ?? null, Math.min(options.limit ?? 50, 500)],
    );
    return rows.map(fromRow);
  }

  async counts(sinceMs: number): Promise<Record<LogoutDelivery['status'], number>> {
    const { rows } = await this.#db.query<{ status: LogoutDelivery['status']; n: string }>(
      'SELECT status, count(*) AS n FROM backchannel_logouts WHERE created_at >= $1 GROUP BY status', [new Date(sinceMs).toISOString()],
    );
    const counts = { pending: 0, delivered: 0, failed: 0 };
    for (const r of rows) counts[r.status] = Number(r.n);
    return counts;
  }
}

/** oidc-provider's Client has these when backchannelLogout is enabled; its types do not declare them. */
interface BackchannelClient {
  backchannelLogoutUri?: string;
  backchannelLogout(sub: string, sid: string): Promise<void>;
}

/** Sends the owed logout tokens through oidc-provider (signed with Vigil's keys, SSRF-guarded fetch). */
export class LogoutDeliveryWorker extends OutboxWorker<Row> {
  constructor(db: Queryable, provider: () => Provider, logger: Logger, options: DeliveryOptions = {}) {
    super(db, logger, {
      table: 'backchannel_logouts',
      label: 'back-channel logout delivery',
      describe: (row) => ({ client: row.client_id }),
      async send(row) {
        const client = await provider().Client.find(row.client_id) as (Awaited<ReturnType<Provider['Client']['find']>> & BackchannelClient) | undefined;
        if (!client?.backchannelLogoutUri) throw new PermanentDeliveryError('the client no longer exists or has no back-channel logout URI');
        await client.backchannelLogout(row.account_id, row.sid);
      },
    }, options);
  }
}
