export type { ExternalIdentity, IdentitySource, PasswordSource, RedirectSource } from './source.ts';
export { FederationError } from './source.ts';
export { loadFederationFile, parseFederationFile, type FederationFile, type ProviderConfig } from './config.ts';
export { SOURCE_KINDS, type SourceDeps, type SourceKind } from './kinds.ts';
export { sealFederationSecret, openFederationSecret, secretAssociatedData } from './sealed-secret.ts';
export { FederationRegistry, type Provider as FederationProvider, type ProviderButton } from './registry.ts';
export { FederationStore, type FederatedIdentity, type ProviderStatus } from './store.ts';
export { FederatedSignIn, assurance, rolesFor, type SignInOutcome, type SignInRefusal } from './sign-in.ts';
export { asFederationError } from './oidc/source.ts';
