import type { Payload } from './payload-codec.ts';
import { RequestSlot } from './request-slot.ts';

interface Prefetched {
  uid: string;
  read: Promise<Payload | undefined>;
}

/**
 * A refresh token bound to its session is checked against the session (Redis) once the token is
 * read (Postgres). The session of a token this instance stored is known before the token is read:
 * its read starts at the same moment as the token's, once the request has arrived (so it is no
 * staler than the read after it would be), and is handed to that request's session lookup, once.
 */
export class SessionPrefetch {
  static readonly MAX_REMEMBERED = 20_000;
  /** Refresh token storage id → the uid of the session it expires with (oldest first). */
  readonly #sessionOf = new Map<string, string>();
  readonly #inRequest: RequestSlot<Prefetched>;
  readonly #readSession: (uid: string) => Promise<Payload | undefined>;

  constructor(currentRequest: () => object | undefined, readSession: (uid: string) => Promise<Payload | undefined>) {
    this.#inRequest = new RequestSlot(currentRequest);
    this.#readSession = readSession;
  }

  /** A refresh token was stored: its session, if it expires with one. */
  remember(storageId: string, payload: Payload): void {
    if (payload.expiresWithSession !== true || typeof payload.sessionUid !== 'string') return;
    if (this.#sessionOf.size >= SessionPrefetch.MAX_REMEMBERED) this.#sessionOf.delete(this.#sessionOf.keys().next().value!);
    this.#sessionOf.set(storageId, payload.sessionUid);
  }

  /** The refresh token with this storage id is being read in this request: its session's read starts too. */
  start(storageId: string): void {
    const uid = this.#sessionOf.get(storageId);
    if (uid === undefined) return;
    this.#sessionOf.delete(storageId);
    const request = this.#inRequest.request();
    if (!request) return;
    const read = this.#readSession(uid);
    // Taken by the lookup that follows, which sees a failure; unused, it is dropped.
    read.catch(() => {});
    this.#inRequest.put({ uid, read }, request);
  }

  /** The read started for this session in this request, once; undefined when there is none. */
  take(uid: string): Promise<Payload | undefined> | undefined {
    if (this.#inRequest.peek()?.uid !== uid) return undefined;
    return this.#inRequest.take()!.read;
  }
}
