import { RequestSlot } from './request-slot.ts';

interface DeferredWrite {
  write: Promise<unknown>;
  /** Takes the write back once it was stored, when the response does not hand out what it stored. */
  withdraw?: () => Promise<unknown>;
}

/** What settling a request's writes found. */
export interface SettledWrites {
  /** The first write that failed: the response must be this error, not the tokens. */
  failure?: { error: unknown };
  /** Writes that were stored but could not be taken back (the response did not hand them out). */
  notWithdrawn: unknown[];
}

/**
 * Writes a token response depends on, started inside the request and waited for once, just before
 * the response leaves: the refresh token's rotation (Postgres), the new access token (Redis) and
 * the ID token's signature then proceed side by side, not one after another. Whoever answers the
 * request must call `settle` first and answer with the failure, if any, instead of the tokens.
 *
 * A response that does not hand the tokens out (a write failed, or the request failed after the
 * writes started) takes back what was stored: the access token is removed, and the refresh
 * token's rotation is undone, so that the client's retry of its refresh token is a refresh, not
 * a replay.
 */
export class ResponseWrites {
  readonly #pending: RequestSlot<DeferredWrite[]>;

  constructor(currentRequest: () => object | undefined) {
    this.#pending = new RequestSlot(currentRequest);
  }

  /**
   * Hands a started write to the request being answered, with how to take it back. False outside
   * a request: the caller awaits the write itself.
   */
  defer(write: Promise<unknown>, withdraw?: () => Promise<unknown>): boolean {
    const request = this.#pending.request();
    if (!request) return false;
    // Observed here; settle() reports it.
    write.catch(() => {});
    const list = this.#pending.peek(request);
    if (list) list.push({ write, withdraw });
    else this.#pending.put([{ write, withdraw }], request);
    return true;
  }

  /**
   * Waits for every write the request deferred, once. `delivered`: whether the response, as it
   * stands, hands out what was written (false when the request failed after the writes started).
   * Undefined when nothing was deferred, or all was stored and delivered.
   */
  async settle(request: object, delivered = true): Promise<SettledWrites | undefined> {
    const list = this.#pending.take(request);
    if (!list) return undefined;
    const outcomes = await Promise.allSettled(list.map((d) => d.write));
    const failed = outcomes.find((r) => r.status === 'rejected');
    if (!failed && delivered) return undefined;
    const withdrawn = await Promise.allSettled(list.map((d, i) => (outcomes[i].status === 'fulfilled' ? d.withdraw?.() : undefined)));
    return {
      ...(failed ? { failure: { error: failed.reason } } : {}),
      notWithdrawn: withdrawn.flatMap((r) => (r.status === 'rejected' ? [r.reason] : [])),
    };
  }
}
