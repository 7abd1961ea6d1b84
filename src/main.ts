import { ConfigError, loadConfig } from './config/index.ts';
import { StoreUnavailableError } from './store/index.ts';
import { createLogger } from './observability/index.ts';
import { startVigil } from './server.ts';

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

try {
  const vigil = await startVigil(config, logger, { announce: (message) => process.stdout.write(`${message}\n`) });
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down');
    const force = setTimeout(() => process.exit(1), 10_000);
    force.unref();
    vigil.close().then(() => process.exit(0), () => process.exit(1));
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
