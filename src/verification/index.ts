/** The continuous check: the I/O around the pure risk engine, at login, at refresh and when a device's posture changes. */
export { ContinuousVerifier, mainReasons, type LoginRequest, type LoginVerdict, type TokenRequestState, type VerifierDeps } from './verifier.ts';
export { tokenFacts, type TokenFactsInput } from './token-facts.ts';
export { AccessPolicyCheck, type AccessPolicyDeps, type TokenGrantType, type TokenSource } from './access-policy.ts';
export {
  AccessPolicyFilesError, loadAccessPolicy, readAccessPolicy, readTokenAccessPolicy, SHIPPED_ACCESS_POLICY_DIR, SHIPPED_ACCESS_POLICY_SCHEMA,
} from './access-policy-files.ts';
export { DECISION_HOUR, PURGE_BATCH, RiskStore, type GrantBinding, type PurgeResult, type LoadedState, type SaveRequest, type StoredAssessment } from './risk-store.ts';
export { RiskReadAhead } from './risk-read-ahead.ts';
export { PopulationCache } from './population.ts';
export { DeviceCookie, DEVICE_COOKIE } from './device-cookie.ts';
export { endUserOf, END_USER_IP_HEADER, END_USER_AGENT_HEADER, MAX_USER_AGENT, type EndUser } from './end-user.ts';
export { DEFAULT_RISK_POLICY_PATH, loadElevationFile, loadNetworkLists, loadPolicyFiles, loadRiskPolicy, type PolicyFiles } from './settings-files.ts';
export { singleSignOnCheck } from './single-sign-on.ts';
