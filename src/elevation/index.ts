export {
  loadElevationSettings, parseElevationSettings, ElevationSettingsError, NO_ELEVATION, MIN_ELEVATION_SECONDS, DEFAULT_APPROVAL_MAX_AGE_SECONDS,
  type ElevationSettings, type RoleRule, type ApprovalRule,
} from './settings.ts';
export { ElevationStore, ELEVATION_STATUSES, type Elevation, type ElevationStatus, type ActiveElevation, type Eligibility, type Approval } from './store.ts';
export { ActiveElevations, effectiveRoles } from './effective-roles.ts';
export { Elevations, ElevationError, type ElevationActor, type ElevationDeps, type ElevationRequest } from './service.ts';
export { ExpiryWatch } from './expiry-watch.ts';
export { BreakGlass, BREAK_GLASS_ACTION, type BreakGlassUse } from './break-glass.ts';
