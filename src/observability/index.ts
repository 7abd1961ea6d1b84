export { createLogger, withRequestId, currentRequestId, type Logger } from './logger.ts';
export { Metrics, routeLabel } from './metrics.ts';
