export { AUTHZEN_SCOPE, authzenResource, ensureAuthzenResourceServer } from './auth.ts';
export { DecisionPoint, type AuthzenPolicy, type Decision, type SearchAnswer } from './decision-point.ts';
export { EntityStore, EntitiesFileError } from './entities.ts';
export { LiveContext, type LiveContextDeps } from './live-context.ts';
export { authzenRoutes, type AuthzenRouteDeps } from './routes.ts';
export { pdpMetadata, authzenPaths } from './discovery.ts';
export { loadAuthzenPolicy } from './cedar-decider.ts';
export { AuthzenTokenClaims, type TokenClaimsDeps } from './token-claims.ts';
