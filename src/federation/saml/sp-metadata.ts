import { generateServiceProviderMetadata } from '@node-saml/node-saml';
import type { SamlProviderConfig } from './config.ts';
import { spEntityId } from './source.ts';

/** Vigil's SP metadata for one provider: its entity id, the ACS URL (HTTP-POST) and what it asks of the IdP. */
export function spMetadata(provider: SamlProviderConfig, urls: { issuer: string; acsUrl: string }): string {
  return generateServiceProviderMetadata({
    issuer: spEntityId(provider, urls.issuer),
    callbackUrl: urls.acsUrl,
    identifierFormat: provider.name_id_format,
    wantAssertionsSigned: !provider.want_authn_response_signed,
  });
}
