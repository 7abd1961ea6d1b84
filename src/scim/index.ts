export { SCIM_SCOPE, scimResource, ensureScimResourceServer, authenticateScim, provisioningRefusal } from './auth.ts';
export { ProvisioningTokens, provisioningTokenView } from './provisioning-tokens.ts';
export { ScimRecords } from './store.ts';
export { ScimUsers, type ScimDeps, type ScimCaller } from './service.ts';
export { scimRoutes, type ScimRouteDeps } from './routes.ts';
export { ScimGroups } from './group-store.ts';
export { GroupRoles } from './group-roles.ts';
export { ScimGroupService } from './group-service.ts';
