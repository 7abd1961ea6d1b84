export { accountRoutes, type AccountDeps } from './routes.ts';
export { RecoveryCodeReveal } from './recovery-reveal.ts';
export { ensureAccountClient, ACCOUNT_CLIENT_ID } from './client.ts';
