import { RequestSlot } from './request-slot.ts';

/**
 * Writes a token response depends on, started inside the request and waited for once, just before
 * the response leaves: the refresh token's rotation (Postgres), the new access token (Redis) and
 * the ID token's signature then proceed side by side, not one after another. Whoever answers the
 * request must call `settle` first and answer with the failure, if any, instead of the tokens.
 */
export class ResponseWrites {
  readonly #pending: RequestSlot<Promise<unknown>[]>;

  constructor(currentRequest: () => object | undefined) {
    this.#pending = new RequestSlot(currentRequest);
  }

  /**
   * Hands a started write to the request being answered. False outside a request: the caller
   * awaits the write itself.
   */
  defer(write: Promise<unknown>): boolean {
    const request = this.#pending.request();
    if (!request) return false;
    // Observed here; settle() reports it.
    write.catch(() => {});
    const list = this.#pending.peek(request);
    if (list) list.push(write);
    else this.#pending.put([write], request);
    return true;
  }

  /** Waits for every write the request deferred, once; the first failure, or undefined when all were stored. */
  async settle(request: object): Promise<{ error: unknown } | undefined> {
    const list = this.#pending.take(request);
    if (!list) return undefined;
    const failed = (await Promise.allSettled(list)).find((r) => r.status === 'rejected');
    return failed && { error: failed.reason };
  }
}
