export * from './types.ts';
export { ADMIN_SCOPE, ADMIN_READ_SCOPE, ADMIN_RESOURCE_OWNER, ADMIN_MIN_ACR, adminResource, ensureAdminResourceServer, authenticateAdmin, type AdminAuthDeps } from './auth.ts';
export { AdminService, type AdminCore, type AdminServiceOptions } from './service.ts';
export { adminApiRoutes, type AdminApiDeps } from './api-routes.ts';
export { DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE } from './paging.ts';
export { adminConsoleRoutes, type AdminConsoleDeps } from './console-routes.ts';
export { ensureAdminConsoleClient, ADMIN_CONSOLE_CLIENT_ID } from './console-client.ts';
