/**
 * Announces the ends of elevations: wakes at the next expiry (or every `everyMs` at the latest,
 * for those started on other instances) and marks them expired, which audits each and tells the
 * person's streams and every instance. The token path does not wait for it: it compares the end
 * time itself.
 */
import type { Logger } from '../observability/index.ts';
import type { Elevations } from './service.ts';

export class ExpiryWatch {
  readonly #elevations: Elevations;
  readonly #everyMs: number;
  readonly #logger: Logger;
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<void> = Promise.resolve();
  #stopped = true;

  constructor(elevations: Elevations, everyMs: number, logger: Logger) {
    this.#elevations = elevations;
    this.#everyMs = everyMs;
    this.#logger = logger;
  }

  start(): void {
    this.#stopped = false;
    this.#schedule(0);
  }

  /** Looks again now (an elevation started on this instance). */
  kick(): void {
    if (!this.#stopped) this.#schedule(0);
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    await this.#running;
  }

  #schedule(delayMs: number): void {
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => {
      this.#running = this.#sweep();
    }, Math.max(0, delayMs));
    this.#timer.unref();
  }

  async #sweep(): Promise<void> {
    let next = this.#everyMs;
    try {
      const expired = await this.#elevations.expireDue();
      if (expired.length) this.#logger.info({ expired: expired.map((e) => ({ id: e.id, role: e.role })) }, 'elevations expired');
      const at = await this.#elevations.nextExpiry();
      if (at !== undefined) next = Math.min(next, at - Date.now() + 50);
    } catch (err) {
      this.#logger.warn({ err }, 'could not expire elevations');
    }
    if (!this.#stopped) this.#schedule(next);
  }
}
