/**
 * Calls Vigil makes to addresses an operator or a configuration names (federation discovery,
 * SAML metadata, SSF push endpoints): an address that is not public (loopback, private,
 * link-local, documentation…) is refused unless the host — as written in the URL — is listed in
 * VIGIL_ALLOWED_OUTGOING_HOSTS. The address checked is the one connected to (the resolver is
 * asked inside the connection), so a name that resolves differently the second time gains nothing.
 */
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { lookup as dnsLookup, type LookupAddress, type LookupOptions } from 'node:dns';
import { BlockList, isIP } from 'node:net';

// One list per family: Node's BlockList also checks an IPv4 address against IPv6 rules as
// IPv4-mapped, and ::ffff:0:0/96 would then match every IPv4 address.
const SPECIAL_V4 = new BlockList();
for (const [network, prefix] of [
  ['0.0.0.0', 8], ['10.0.0.0', 8], ['100.64.0.0', 10], ['127.0.0.0', 8], ['169.254.0.0', 16], ['172.16.0.0', 12],
  ['192.0.0.0', 24], ['192.0.2.0', 24], ['192.31.196.0', 24], ['192.52.193.0', 24], ['192.88.99.0', 24], ['192.168.0.0', 16],
  ['192.175.48.0', 24], ['198.18.0.0', 15], ['198.51.100.0', 24], ['203.0.113.0', 24], ['240.0.0.0', 4],
] as const) SPECIAL_V4.addSubnet(network, prefix, 'ipv4');
const SPECIAL_V6 = new BlockList();
for (const [network, prefix] of [
  ['::', 128], ['::1', 128], ['64:ff9b::', 96], ['64:ff9b:1::', 48], ['100::', 64], ['2001::', 23],
  ['2001:db8::', 32], ['2002::', 16], ['fc00::', 7], ['fe80::', 10], ['ff00::', 8],
] as const) SPECIAL_V6.addSubnet(network, prefix, 'ipv6');

/** Loopback, private, link-local, documentation and other addresses that are not the public internet. */
export function isSpecialUse(address: string): boolean {
  if (isIP(address) === 4) return SPECIAL_V4.check(address, 'ipv4');
  // An IPv4-mapped IPv6 address is the IPv4 address it carries.
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped) return SPECIAL_V4.check(mapped[1], 'ipv4');
  if (/^::ffff:/i.test(address)) return true;
  return SPECIAL_V6.check(address, 'ipv6');
}

/** Whether the operator listed the URL's host (host or host:port, as written) as an allowed exception. */
export function outgoingHostAllowed(url: URL, allowedHosts: readonly string[]): boolean {
  const allowed = new Set(allowedHosts.map((h) => h.toLowerCase()));
  return allowed.has(url.host.toLowerCase()) || allowed.has(url.hostname.toLowerCase());
}

export class OutgoingRefused extends Error {
  override name = 'OutgoingRefused';
}

export interface OutgoingFetchOptions {
  allowedHosts: readonly string[];
  timeoutMs: number;
  /** Largest response body read, in bytes. */
  maxBytes?: number;
}

type Lookup = (hostname: string, options: LookupOptions, callback: (err: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void) => void;

const guardedLookup: Lookup = (hostname, options, callback) => {
  dnsLookup(hostname, { ...options, all: true }, (err, addresses) => {
    if (err) return callback(err, '');
    const list = addresses as LookupAddress[];
    const special = list.find((a) => isSpecialUse(a.address));
    if (special) return callback(Object.assign(new OutgoingRefused(`${hostname} resolves to ${special.address}, a private or loopback address Vigil may not call (list the host in VIGIL_ALLOWED_OUTGOING_HOSTS)`), { code: 'EVIGILREFUSED' }), '');
    if (options.all) return callback(null, list);
    callback(null, list[0].address, list[0].family);
  });
};

/**
 * A `fetch` for outgoing calls: http(s) only, special-use addresses refused (see above), a time
 * limit on the whole exchange and on the body's size. Redirects are not followed.
 */
export function outgoingFetch(options: OutgoingFetchOptions): typeof fetch {
  const maxBytes = options.maxBytes ?? 1_000_000;
  return (async (input: string | URL | Request, init: RequestInit = {}) => {
    const request = new Request(input, init);
    const url = new URL(request.url);
    if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new OutgoingRefused(`${url.protocol} URLs are not fetched`);
    const exempt = outgoingHostAllowed(url, options.allowedHosts);
    const literal = url.hostname.replace(/^\[(.*)\]$/, '$1');
    if (!exempt && isIP(literal) && isSpecialUse(literal)) {
      throw new OutgoingRefused(`${url.host} is a private or loopback address Vigil may not call (list it in VIGIL_ALLOWED_OUTGOING_HOSTS)`);
    }
    const body = request.body ? Buffer.from(await request.arrayBuffer()) : undefined;
    const headers: Record<string, string> = {};
    request.headers.forEach((value, name) => { headers[name] = value; });
    if (body) headers['content-length'] = String(body.length);
    const signal = AbortSignal.any([AbortSignal.timeout(options.timeoutMs), ...(init.signal ? [init.signal] : [])]);
    const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
    const response = await new Promise<IncomingMessage>((resolve, reject) => {
      const req = send(url, { method: request.method, headers, signal, ...(exempt ? {} : { lookup: guardedLookup }) }, resolve);
      req.on('error', (err: NodeJS.ErrnoException) => reject(err.code === 'EVIGILREFUSED' ? err : Object.assign(new Error(`${url.host}: ${err.message}`), { cause: err })));
      req.end(body);
    });
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of response.on('error', () => {}) as AsyncIterable<Buffer>) {
      size += chunk.length;
      if (size > maxBytes) {
        response.destroy();
        throw new OutgoingRefused(`${url.host}: the response is larger than ${maxBytes} bytes`);
      }
      chunks.push(chunk);
    }
    const responseHeaders = new Headers();
    for (const [name, value] of Object.entries(response.headers)) {
      if (Array.isArray(value)) value.forEach((v) => responseHeaders.append(name, v));
      else if (value !== undefined) responseHeaders.set(name, value);
    }
    const status = response.statusCode ?? 502;
    const nullBody = status === 204 || status === 304 || request.method === 'HEAD';
    const result = new Response(nullBody ? null : Buffer.concat(chunks), { status, statusText: response.statusMessage ?? '', headers: responseHeaders });
    Object.defineProperty(result, 'url', { value: url.toString() });
    return result;
  }) as typeof fetch;
}
