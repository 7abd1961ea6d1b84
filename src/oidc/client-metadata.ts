import type { Client } from 'oidc-provider';

type ClientMetadata = ReturnType<Client['metadata']>;

const computed = new WeakMap<Client, Readonly<ClientMetadata>>();

/**
 * A client's registered metadata. oidc-provider's `metadata()` rebuilds it (every key
 * snake-cased) at each call, which the token path did several times per request; a Client
 * instance never changes (oidc-provider makes a new one when the metadata does), so it is
 * computed once per instance.
 */
export function clientMetadata(client: Client): Readonly<ClientMetadata> {
  let metadata = computed.get(client);
  if (!metadata) computed.set(client, metadata = Object.freeze(client.metadata()));
  return metadata;
}
