export { samlFields, samlProviderSchema, refineSamlProvider, DEFAULT_ATTRIBUTES, NAME_ID_FORMATS, type SamlFields, type SamlProviderConfig } from './config.ts';
export { createSamlSource, spEntityId, type SamlSourceDeps } from './source.ts';
export { spMetadata } from './sp-metadata.ts';
export { samlMetadataRoutes, samlUrls } from './routes.ts';
export { parseIdpMetadata, type IdpMetadata } from './metadata.ts';
export { IdpMetadataLoader, type OutgoingFetch } from './idp-metadata.ts';
