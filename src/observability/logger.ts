import { AsyncLocalStorage } from 'node:async_hooks';
import pino, { type Logger } from 'pino';

const requestScope = new AsyncLocalStorage<{ reqId: string }>();

/**
 * Field names that may carry secrets; pino replaces their values wherever they appear at these
 * paths. The first defence is that request bodies, queries and headers are never logged.
 */
const REDACT = [
  'password', 'secret', 'token', 'code', 'authorization', 'cookie',
  '*.password', '*.secret', '*.client_secret', '*.token', '*.access_token', '*.refresh_token', '*.id_token', '*.code', '*.authorization', '*.cookie',
];

export function createLogger(level: string, destination?: pino.DestinationStream): Logger {
  return pino({
    level,
    base: { service: 'vigil' },
    redact: { paths: REDACT, censor: '[redacted]' },
    mixin: () => {
      const scope = requestScope.getStore();
      return scope ? { reqId: scope.reqId } : {};
    },
    serializers: { err: pino.stdSerializers.err },
  }, destination);
}

/** Runs `fn` with a request id that every log line written inside it carries. */
export function withRequestId<T>(reqId: string, fn: () => T): T {
  return requestScope.run({ reqId }, fn);
}

export function currentRequestId(): string | undefined {
  return requestScope.getStore()?.reqId;
}

export type { Logger };
