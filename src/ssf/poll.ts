/**
 * Poll delivery (RFC 8936): the receiver acknowledges what it has (`ack`), reports SETs it could
 * not use (`setErrs`), and gets the pending ones in the order they were queued. Acknowledged SETs
 * are never returned again; unacknowledged ones are returned again at the next poll.
 */
import { z } from 'zod';
import type { Queryable } from '../store/index.ts';
import type { HeldPolls } from './held-polls.ts';
import { payloadOf, type EventRow } from './push.ts';
import type { SetSigner } from './signer.ts';
import type { Stream } from './streams.ts';

const jti = z.string().min(1).max(256);

export const pollRequestSchema = z.object({
  maxEvents: z.number().int().min(0).max(1000).optional(),
  returnImmediately: z.boolean().optional(),
  ack: z.array(jti).max(1000).optional(),
  setErrs: z.record(jti, z.object({ err: z.string().min(1).max(100), description: z.string().max(500).optional() })).optional(),
});
export type PollRequest = z.infer<typeof pollRequestSchema>;

export interface PollResponse {
  sets: Record<string, string>;
  moreAvailable?: boolean;
}

const DEFAULT_MAX = 100;

/** How a poll that may wait (RFC 8936 `returnImmediately` false, the default) waits. */
export interface LongPoll {
  held: HeldPolls;
  waitMs: number;
  /** The request's end (the receiver gave up): the poll answers at once. */
  signal: { aborted: boolean; onAbort: (f: () => void) => void };
}

export async function pollEvents(db: Queryable, signer: SetSigner, stream: Stream, request: PollRequest, longPoll?: LongPoll): Promise<PollResponse> {
  if (request.ack?.length) {
    await db.query(
      "UPDATE ssf_events SET status = 'delivered', delivered_at = now() WHERE stream_id = $1 AND jti = ANY ($2::text[]) AND status = 'pending'",
      [stream.id, request.ack],
    );
  }
  for (const [id, error] of Object.entries(request.setErrs ?? {})) {
    await db.query(
      "UPDATE ssf_events SET status = 'failed', last_error = $3 WHERE stream_id = $1 AND jti = $2 AND status = 'pending'",
      [stream.id, id, `receiver: ${error.err}${error.description ? `: ${error.description}` : ''}`.slice(0, 500)],
    );
  }
  const max = request.maxEvents ?? DEFAULT_MAX;
  // maxEvents 0 only acknowledges; a paused stream holds its events.
  if (max === 0 || stream.status !== 'enabled') return { sets: {} };
  const deadline = Date.now() + (request.returnImmediately !== true && longPoll ? longPoll.waitMs : 0);
  for (;;) {
    const { rows } = await db.query<EventRow>(
      `UPDATE ssf_events SET attempts = attempts + 1 WHERE id IN (
         SELECT id FROM ssf_events WHERE stream_id = $1 AND status = 'pending' ORDER BY id LIMIT $2) RETURNING *`,
      [stream.id, max + 1],
    );
    if (rows.length > 0 || Date.now() >= deadline || !longPoll || longPoll.signal.aborted) {
      rows.sort((a, b) => Number(a.id) - Number(b.id));
      const sets: Record<string, string> = {};
      for (const row of rows.slice(0, max)) sets[row.jti] = await signer.sign(stream.audience, row.jti, payloadOf(row));
      return { sets, ...(rows.length > max ? { moreAvailable: true } : {}) };
    }
    await longPoll.held.hold(stream.id, deadline, longPoll.signal);
  }
}
