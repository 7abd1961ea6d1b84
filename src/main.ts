import { setFlagsFromString } from 'node:v8';
import { ConfigError, loadConfig } from './config/index.ts';
import { StoreUnavailableError } from './store/index.ts';
import { createLogger } from './observability/index.ts';
import { drainLimitMs } from './lifecycle/index.ts';

function fail(message: string): never {
  process.stderr.write(`vigil: ${message}\n`);
  process.exit(1);
}

let config;
try {
  config = loadConfig();
} catch (err) {
  if (err instanceof ConfigError) fail(err.message);
  throw err;
}
const logger = createLogger(config.LOG_LEVEL);
// V8 lets a fast-allocating process's old generation grow to several times its live heap before a
// full GC (Vigil's ~50 MB live heap reached 100–150 MB of old space under refresh load). Twice
// the live heap keeps ~90 MB of RSS off at the same throughput (docs/performance.md, Memory).
// It is not a cap: the heap still grows as far as the live data needs.
if (config.VIGIL_HEAP_GROWTH_PERCENT > 0) setFlagsFromString(`--heap-growing-percent=${config.VIGIL_HEAP_GROWTH_PERCENT}`);
// The server's modules (~900: the OIDC provider, the HTTP stack) load once the settings are known to be good: a
// refused start says why at once. A missing one still stops the start, as a static import would.
const { startVigil } = await import('./server.ts');

try {
  const vigil = await startVigil(config, logger, { announce: (message) => process.stdout.write(`${message}\n`) });
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    const started = Date.now();
    const timeoutSeconds = config.VIGIL_SHUTDOWN_TIMEOUT_SECONDS;
    logger.info({ signal, timeoutSeconds }, 'shutting down');
    // Not unref'd: a shutdown stuck on nothing Node waits for must still end here, not exit 0 early.
    setTimeout(() => {
      logger.error({ timeoutSeconds }, 'shutdown did not finish within VIGIL_SHUTDOWN_TIMEOUT_SECONDS; exiting without waiting for it');
      process.exit(1);
    }, timeoutSeconds * 1000);
    vigil.close(drainLimitMs(timeoutSeconds)).then(() => {
      logger.info({ tookMs: Date.now() - started }, 'shut down');
      process.exit(0);
    }, (err: unknown) => {
      logger.error({ err }, 'shutdown failed');
      process.exit(1);
    });
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  // Policies and lists change without a restart; requests in flight finish under the old ones.
  process.on('SIGHUP', () => {
    vigil.reload();
  });
} catch (err) {
  if (err instanceof ConfigError || err instanceof StoreUnavailableError) fail(err.message);
  if ((err as NodeJS.ErrnoException).code === 'EADDRINUSE') fail(`PORT: ${config.HOST}:${config.PORT} is already in use`);
  if ((err as NodeJS.ErrnoException).code === 'EACCES') fail(`PORT: not allowed to listen on ${config.HOST}:${config.PORT}`);
  logger.fatal({ err }, 'start-up failed');
  fail(`start-up failed: ${(err as Error).message}`);
}
