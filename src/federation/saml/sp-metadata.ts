import { createHash } from 'node:crypto';
import { nodeSaml } from './library.ts';
import type { SamlProviderConfig } from './config.ts';
import { spEntityId } from './source.ts';

/** Vigil's SP metadata for one provider: its entity id, the ACS URL (HTTP-POST) and what it asks of the IdP. */
export async function spMetadata(provider: SamlProviderConfig, urls: { issuer: string; acsUrl: string }): Promise<string> {
  const entityId = spEntityId(provider, urls.issuer);
  return (await nodeSaml()).generateServiceProviderMetadata({
    issuer: entityId,
    // The same document at every request (node-saml would give it a random ID each time).
    generateUniqueId: () => `_${createHash('sha256').update(`${entityId}\n${urls.acsUrl}`).digest('hex').slice(0, 40)}`,
    callbackUrl: urls.acsUrl,
    identifierFormat: provider.name_id_format,
    wantAssertionsSigned: !provider.want_authn_response_signed,
  });
}
