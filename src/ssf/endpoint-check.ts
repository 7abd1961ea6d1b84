/**
 * Whether Vigil will be allowed to call a push endpoint, decided when the stream is created or
 * changed, with the reason, instead of failing at every delivery where only administrators see
 * it. The rule is the one the push applies (oidc-provider's SSRF guard, see
 * oidc/configuration.ts `outgoingFetch`): an address that is not public (loopback, private,
 * link-local, documentation…) is refused unless the endpoint's host — as written in the URL — is
 * listed in VIGIL_ALLOWED_OUTGOING_HOSTS.
 */
import { lookup } from 'node:dns/promises';
import { BlockList, isIP } from 'node:net';

const SPECIAL_USE = new BlockList();
for (const [network, prefix] of [
  ['0.0.0.0', 8], ['10.0.0.0', 8], ['100.64.0.0', 10], ['127.0.0.0', 8], ['169.254.0.0', 16], ['172.16.0.0', 12],
  ['192.0.0.0', 24], ['192.0.2.0', 24], ['192.31.196.0', 24], ['192.52.193.0', 24], ['192.88.99.0', 24], ['192.168.0.0', 16],
  ['192.175.48.0', 24], ['198.18.0.0', 15], ['198.51.100.0', 24], ['203.0.113.0', 24], ['240.0.0.0', 4],
] as const) SPECIAL_USE.addSubnet(network, prefix, 'ipv4');
for (const [network, prefix] of [
  ['::', 128], ['::1', 128], ['::ffff:0:0', 96], ['64:ff9b::', 96], ['64:ff9b:1::', 48], ['100::', 64], ['2001::', 23],
  ['2001:db8::', 32], ['2002::', 16], ['fc00::', 7], ['fe80::', 10], ['ff00::', 8],
] as const) SPECIAL_USE.addSubnet(network, prefix, 'ipv6');

function isSpecialUse(address: string): boolean {
  const family = isIP(address) === 6 ? 'ipv6' : 'ipv4';
  return SPECIAL_USE.check(address, family);
}

/** The problem with pushing to `endpoint`, or undefined when Vigil may call it. */
export async function pushEndpointProblem(endpoint: string, allowedHosts: readonly string[]): Promise<string | undefined> {
  const url = new URL(endpoint);
  const allowed = new Set(allowedHosts.map((h) => h.toLowerCase()));
  if (allowed.has(url.host.toLowerCase()) || allowed.has(url.hostname.toLowerCase())) return undefined;
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
