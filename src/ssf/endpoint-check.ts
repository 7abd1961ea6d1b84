/**
 * Whether Vigil will be allowed to call a push endpoint, decided when the stream is created or
 * changed, with the reason, instead of failing at every delivery where only administrators see
 * it. The rule is the one the push applies (oidc-provider's SSRF guard, see
 * oidc/configuration.ts `outgoingFetch`): an address that is not public (loopback, private,
 * link-local, documentation…) is refused unless the endpoint's host — as written in the URL — is
 * listed in VIGIL_ALLOWED_OUTGOING_HOSTS.
 */
import { lookup } from 'node:dns/promises';
import { isSpecialUse, outgoingHostAllowed } from '../http/outgoing.ts';

/** The problem with pushing to `endpoint`, or undefined when Vigil may call it. */
export async function pushEndpointProblem(endpoint: string, allowedHosts: readonly string[]): Promise<string | undefined> {
  const url = new URL(endpoint);
  if (outgoingHostAllowed(url, allowedHosts)) return undefined;
  const hostname = url.hostname.replace(/^\[(.*)\]$/, '$1');
  let addresses: string[];
  try {
    addresses = (await lookup(hostname, { all: true, verbatim: true })).map((a) => a.address);
  } catch {
    return `${url.host} does not resolve: Vigil could not deliver to it`;
  }
  const special = addresses.find(isSpecialUse);
  if (special === undefined) return undefined;
  return `${url.host} is a private or loopback address (${special}) that Vigil may not call: `
    + `its operator must list ${url.host} (as written in the URL) in VIGIL_ALLOWED_OUTGOING_HOSTS`;
}
