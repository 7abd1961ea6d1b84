export { DrainingServer, type DrainResult } from './draining-server.ts';
export { drainLimitMs } from './shutdown-limits.ts';
