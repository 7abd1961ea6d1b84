export * from './types.ts';
export { ADMIN_SCOPE, ADMIN_READ_SCOPE, adminResource, ensureAdminResourceServer, authenticateAdmin, type AdminAuthDeps } from './auth.ts';
export { AdminService, type AdminCore } from './service.ts';
export { adminApiRoutes, type AdminApiDeps } from './api-routes.ts';
export { adminConsoleRoutes, type AdminConsoleDeps } from './console-routes.ts';
export { ensureAdminConsoleClient, ADMIN_CONSOLE_CLIENT_ID } from './console-client.ts';
export { clientSettingsDeps } from './client-settings-deps.ts';
