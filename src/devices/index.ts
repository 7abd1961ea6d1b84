export {
  DEVICES_SCOPE, DEVICES_MANAGE_SCOPE, DEVICES_RESOURCE_OWNER, devicesResource, ensureDevicesResourceServer,
  authenticateToken, bearerToken, requireScope, BearerError, type Caller,
} from './auth.ts';
export {
  DEFAULT_POSTURE_POLICY_PATH, POSTURE_CHECKS, postureFieldsSchema, posturePolicySchema, parsePosturePolicy, loadPosturePolicy,
  evaluatePosture, compareVersions, PosturePolicyError, type ExternalCompliance, type PosturePolicy, type PostureFields, type PostureCheck,
} from './policy.ts';
export {
  validateDeviceKey, verifyPostureReport, parseMdmReport, checkReportTime, mdmReportSchema, PostureReportError, DeviceKeyError,
  type DevicePublicKey, type ReportDevice, type ReportCheckOptions, type VerifiedReport, type ReportErrorCode,
} from './report.ts';
export { DeviceRegistry, DuplicateDeviceKeyError, TooManyDevicesError, MAX_DEVICES_PER_ACCOUNT, type Device } from './registry.ts';
export { deviceRoutes, type DeviceRoutesDeps } from './routes.ts';
