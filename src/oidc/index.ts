export { clientMetadata } from './client-metadata.ts';
export { authzenClaimSpecs, authzenClaimSpecsSchema, type AuthzenClaimSpec } from './authzen-claims.ts';
export {
  createProvider, buildConfiguration, cookieKeys, PRIVILEGED_METADATA, type AccessPolicyHook, type AccessPolicySource, type ProviderDeps,
} from './configuration.ts';
export { ensureSigningKeys, rotateSigningKeys, loadJwks, listSigningKeys, SIGNING_ALGS, type KeySummary } from './keys.ts';
export { ResourceServerStore, resourceIdentifierSchema, scopeTokenSchema, type ResourceServer } from './resource-servers.ts';
export { requiredAcr, interactionPolicyWithAcrLevels, paysStepUp, unpaidStepUps, checkRefreshPaysStepUp, type OwedStepUp, type SessionRequirement, type SingleSignOnCheck } from './acr-policy.ts';
export {
  registerClient, updateClient, settingsOf, withDefaults, ClientSettingsError, CLIENT_GRANT_TYPES, TOKEN_FORMATS, ACCESS_TOKEN_TTL_RANGE,
  type ClientSettings, type ClientSettingsDeps, type ClientRegistration, type ResourceServerSettings,
} from './client-settings.ts';
export { createRegistrationToken, REGISTRATION_TOKEN_LIFETIME } from './registration-tokens.ts';
