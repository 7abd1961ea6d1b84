export { DrainingServer, type DrainResult } from './draining-server.ts';
export { drainLimitMs } from './shutdown-limits.ts';
export { PendingWrites } from './pending-writes.ts';
