/**
 * Push delivery (RFC 8935) from the outbox: POST `application/secevent+jwt` to the receiver's
 * endpoint through oidc-provider's SSRF-guarded fetch, 202 expected. A 400 is the receiver
 * refusing the SET itself (retrying cannot help): failed at once, with its `err`. Anything else
 * is retried with backoff by the shared outbox worker.
 */
import type Provider from 'oidc-provider';
import fetchRequest from 'oidc-provider/lib/helpers/fetch_request.js';
import type { Logger } from '../observability/index.ts';
import type { Queryable } from '../store/index.ts';
import { OutboxWorker, PermanentDeliveryError, type DeliveryOptions } from '../sessions/index.ts';
import { PUSH_METHOD } from './events.ts';
import type { SetSigner } from './signer.ts';
import type { StreamStore } from './streams.ts';

export interface EventRow {
  id: string;
  attempts: number;
  stream_id: string;
  jti: string;
  event_type: string;
  payload: Record<string, unknown> | string;
}

export const payloadOf = (row: EventRow): Record<string, unknown> => (typeof row.payload === 'string' ? JSON.parse(row.payload) : row.payload);

export interface PushDeps {
  db: Queryable;
  streams: StreamStore;
  signer: SetSigner;
  provider: () => Provider;
  logger: Logger;
}

async function refusal(response: Response): Promise<string> {
  const text = (await response.text().catch(() => '')).slice(0, 2000);
  try {
    const body = JSON.parse(text) as { err?: unknown; description?: unknown };
    if (typeof body.err === 'string') return `${response.status} ${body.err}${typeof body.description === 'string' ? `: ${body.description}` : ''}`.slice(0, 500);
  } catch { /* not JSON: the status says enough */ }
  return `${response.status} ${response.statusText}`.trim();
}

export class PushDeliveryWorker extends OutboxWorker<EventRow> {
  constructor(deps: PushDeps, options: DeliveryOptions = {}) {
    super(deps.db, deps.logger, {
      table: 'ssf_events',
      // A paused stream holds its events (delivered in order once enabled); poll streams are read by their receivers.
      eligible: `stream_id IN (SELECT id FROM ssf_streams WHERE status = 'enabled' AND delivery_method = '${PUSH_METHOD}')`,
      label: 'security event push',
      describe: (row) => ({ stream: row.stream_id, event: row.event_type, jti: row.jti }),
      async send(row) {
        const stream = await deps.streams.byId(row.stream_id);
        if (!stream?.endpointUrl) throw new PermanentDeliveryError('the stream no longer exists or has no push endpoint');
        const set = await deps.signer.sign(stream.audience, row.jti, payloadOf(row));
        const headers: Record<string, string> = { 'content-type': 'application/secevent+jwt', accept: 'application/json' };
        if (stream.authorizationHeader) headers.authorization = stream.authorizationHeader;
        const response = await fetchRequest(deps.provider(), stream.endpointUrl, { method: 'POST', headers, body: set, redirect: 'manual' });
        if (response.status === 202 || response.status === 200 || response.status === 204) {
          await response.body?.cancel();
          return;
        }
        const why = await refusal(response);
        if (response.status === 400) throw new PermanentDeliveryError(`the receiver refused the SET: ${why}`);
        throw new Error(`the receiver answered ${why}`);
      },
    }, options);
  }
}
