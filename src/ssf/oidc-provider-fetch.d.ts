// oidc-provider's outgoing fetch: its SSRF guard (special-use addresses refused) and then the
// configured `fetch` (Vigil's, which lets VIGIL_ALLOWED_OUTGOING_HOSTS through). Not typed upstream.
declare module 'oidc-provider/lib/helpers/fetch_request.js' {
  import type Provider from 'oidc-provider';
  export default function fetchRequest(provider: Provider, url: URL | string, options: RequestInit): Promise<Response>;
}
