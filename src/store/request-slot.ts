/**
 * A value kept for one request (oidc-provider's request context, `Provider.ctx`) until it is
 * taken: what one step of a request leaves for a later step of the same request. Gone with the
 * request if nobody takes it.
 */
export class RequestSlot<T> {
  readonly #values = new WeakMap<object, T>();
  readonly #currentRequest: () => object | undefined;

  constructor(currentRequest: () => object | undefined) {
    this.#currentRequest = currentRequest;
  }

  /** The request being answered; undefined outside one. */
  request(): object | undefined {
    return this.#currentRequest();
  }

  /** Keeps `value` for the request (the one being answered unless named); false outside a request. */
  put(value: T, request = this.#currentRequest()): boolean {
    if (!request) return false;
    this.#values.set(request, value);
    return true;
  }

  /** What is kept for the request, left in place. */
  peek(request = this.#currentRequest()): T | undefined {
    return request && this.#values.get(request);
  }

  /** What is kept for the request, once. */
  take(request = this.#currentRequest()): T | undefined {
    const value = this.peek(request);
    if (value !== undefined) this.#values.delete(request!);
    return value;
  }
}
