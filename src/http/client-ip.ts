import { BlockList, isIP } from 'node:net';

/** Decides which proxies may tell us the client's address (TRUST_PROXY). */
export class ProxyTrust {
  readonly #trusted = new BlockList();
  readonly enabled: boolean;

  constructor(cidrs: string[]) {
    for (const cidr of cidrs) {
      const [addr, bits] = cidr.split('/');
      const type = isIP(addr) === 6 ? 'ipv6' : 'ipv4';
      if (bits === undefined) this.#trusted.addAddress(addr, type);
      else this.#trusted.addSubnet(addr, Number(bits), type);
    }
    this.enabled = cidrs.length > 0;
  }

  isTrusted(address: string): boolean {
    const plain = normalize(address);
    const type = isIP(plain);
    return type !== 0 && this.#trusted.check(plain, type === 6 ? 'ipv6' : 'ipv4');
  }

  /**
   * The socket address, or — when the socket is a trusted proxy — the right-most address in
   * X-Forwarded-For that is not itself a trusted proxy. Left-most entries are client-supplied.
   */
  clientIp(socketAddress: string | undefined, forwardedFor: string | undefined): string {
    let ip = normalize(socketAddress ?? '');
    if (!this.enabled || !forwardedFor || !this.isTrusted(ip)) return ip;
    const hops = forwardedFor.split(',').map((h) => normalize(h.trim())).filter((h) => isIP(h) !== 0);
    for (let i = hops.length - 1; i >= 0; i--) {
      ip = hops[i];
      if (!this.isTrusted(ip)) break;
    }
    return ip;
  }
}

function normalize(address: string): string {
  return address.startsWith('::ffff:') && address.includes('.') ? address.slice(7) : address;
}
