export { accountRoutes, type AccountDeps } from './routes.ts';
export { ensureAccountClient, ACCOUNT_CLIENT_ID } from './client.ts';
