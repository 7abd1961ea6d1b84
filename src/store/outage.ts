/** Which shared store could not be reached. */
export type StoreName = 'postgres' | 'redis';

/** Seconds a client is told to wait (Retry-After) before it tries again during an outage. */
export const OUTAGE_RETRY_AFTER_SECONDS = 5;

/**
 * A store that cannot be reached right now (refused, dropped, shutting down, starting up): not the
 * request's fault, and worth retrying. Shaped like oidc-provider's errors, so that its endpoints
 * answer it as they are: 503 with `{"error": "temporarily_unavailable"}` (RFC 6749 §4.1.2.1).
 */
export class StoreOutageError extends Error {
  override name = 'StoreOutageError';
  /** Undefined when the error came from a store client used outside this folder. */
  readonly store: StoreName | undefined;
  readonly error = 'temporarily_unavailable';
  readonly error_description: string;
  readonly status = 503;
  readonly statusCode = 503;
  readonly expose = true;
  /** At the authorization endpoint, a known client is sent back its error (RFC 6749 §4.1.2.1). */
  readonly allow_redirect = true;
  readonly retryAfter = OUTAGE_RETRY_AFTER_SECONDS;

  constructor(store: StoreName | undefined, cause: unknown) {
    super('temporarily_unavailable', { cause });
    this.store = store;
    this.error_description = 'the service is temporarily unavailable; try again shortly';
  }
}

/** Node's socket errors: the server is not there (or no longer). */
const SOCKET_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN', 'ECONNABORTED']);

/**
 * Postgres: connection exceptions (class 08), shutting down or starting up (57P01–57P03), no
 * connection slot left (53300).
 */
const POSTGRES_STATES = /^(08...|57P0[123]|53300)$/;

/** What pg and ioredis say when they have no connection to send a query or command on. */
const CONNECTION_MESSAGES = [
  /^Connection terminated/,
  /^timeout exceeded when trying to connect/,
  /^Client has encountered a connection error/,
  /^Stream isn't writeable/,
  /^Connection is closed/,
  /^Command aborted due to connection close/,
  /^Command timed out/,
  /^Reached the max retries per request limit/,
  /^LOADING /,
  /^MASTERDOWN /,
];

function isOutage(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  const { code } = err as { code?: unknown };
  if (typeof code === 'string' && (SOCKET_CODES.has(code) || POSTGRES_STATES.test(code))) return true;
  if (err.name === 'MaxRetriesPerRequestError') return true;
  return CONNECTION_MESSAGES.some((pattern) => pattern.test(err.message));
}

/** The error as a StoreOutageError when it says the store is unreachable; otherwise the error itself. */
export function asStoreOutage(err: unknown, store: StoreName): unknown {
  return err instanceof StoreOutageError || !isOutage(err) ? err : new StoreOutageError(store, err);
}

/**
 * The outage behind an error, whichever layer threw it: a StoreOutageError, or a store client's own
 * error about its connection (from code that talks to a store directly, not through this folder).
 */
export function storeOutage(err: unknown): StoreOutageError | undefined {
  if (err instanceof StoreOutageError) return err;
  return isOutage(err) ? new StoreOutageError(undefined, err) : undefined;
}
