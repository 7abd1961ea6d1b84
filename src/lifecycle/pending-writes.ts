/**
 * Writes a request starts and does not wait for (an audit entry after the response, a session's
 * last activity): tracked so that a shutdown lets them finish before the stores close.
 */
export class PendingWrites {
  readonly #running = new Set<Promise<void>>();

  /** `write`, tracked until it settles; its failure is the caller's to handle, on what is returned. */
  track<T>(write: Promise<T>): Promise<T> {
    const done = () => {
      this.#running.delete(tracked);
    };
    const tracked = write.then(done, done);
    this.#running.add(tracked);
    return write;
  }

  /** Resolves once every write tracked so far has settled, whatever its outcome. */
  async settled(): Promise<void> {
    await Promise.all(this.#running);
  }
}
