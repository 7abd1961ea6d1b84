export { AccountRecovery, RESET_PATH, VERIFY_PATH, type RecoveryDeps, type ResetResult } from './service.ts';
export { RecoveryThrottle, type RecoveryLimit, type RecoveryRefusal } from './throttle.ts';
export { recoveryRoutes, type RecoveryRouteDeps } from './routes.ts';
