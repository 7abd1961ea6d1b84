/**
 * IP address helpers for the risk engine: parsing, the /24 (IPv4) and /48 (IPv6) prefixes the
 * behaviour model compares, private/reserved detection and CIDR list matching. Pure.
 */

export type ParsedIp =
  | { version: 4; value: number }
  | { version: 6; words: number[] };

const V4_PART = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)$/;
const V6_WORD = /^[0-9a-fA-F]{1,4}$/;

function parseV4(text: string): number | undefined {
  const parts = text.split('.');
  if (parts.length !== 4) return undefined;
  let value = 0;
  for (const part of parts) {
    if (!V4_PART.test(part)) return undefined;
    value = value * 256 + Number(part);
  }
  return value;
}

function parseV6(text: string): number[] | undefined {
  const zone = text.indexOf('%');
  if (zone >= 0) text = text.slice(0, zone);
  if (text.length === 0 || text.length > 45) return undefined;
  const halves = text.split('::');
  if (halves.length > 2) return undefined;
  const toWords = (part: string, allowV4: boolean): number[] | undefined => {
    if (part === '') return [];
    const pieces = part.split(':');
    const words: number[] = [];
    for (let i = 0; i < pieces.length; i++) {
      const piece = pieces[i];
      if (allowV4 && i === pieces.length - 1 && piece.includes('.')) {
        const v4 = parseV4(piece);
        if (v4 === undefined) return undefined;
        words.push(Math.floor(v4 / 65536), v4 % 65536);
      } else if (V6_WORD.test(piece)) {
        words.push(parseInt(piece, 16));
      } else {
        return undefined;
      }
    }
    return words;
  };
  if (halves.length === 1) {
    const words = toWords(halves[0], true);
    return words && words.length === 8 ? words : undefined;
  }
  const head = toWords(halves[0], false);
  const tail = toWords(halves[1], true);
  if (!head || !tail || head.length + tail.length > 7) return undefined;
  return [...head, ...new Array<number>(8 - head.length - tail.length).fill(0), ...tail];
}

/** Parses an IPv4 or IPv6 address; IPv4-mapped IPv6 (`::ffff:1.2.3.4`) is returned as IPv4. */
export function parseIp(text: string): ParsedIp | undefined {
  const trimmed = text.trim();
  if (trimmed.includes(':')) {
    const words = parseV6(trimmed);
    if (!words) return undefined;
    if (words[0] === 0 && words[1] === 0 && words[2] === 0 && words[3] === 0 && words[4] === 0 && words[5] === 0xffff) {
      return { version: 4, value: words[6] * 65536 + words[7] };
    }
    return { version: 6, words };
  }
  const value = parseV4(trimmed);
  return value === undefined ? undefined : { version: 4, value };
}

function v4String(value: number): string {
  return `${Math.floor(value / 16777216)}.${Math.floor(value / 65536) % 256}.${Math.floor(value / 256) % 256}.${value % 256}`;
}

/**
 * The network the behaviour model treats as "the same place": `a.b.c.0/24` for IPv4,
 * `xxxx:xxxx:xxxx::/48` for IPv6, `invalid` for anything else.
 */
export function ipPrefix(text: string): string {
  const ip = parseIp(text);
  if (!ip) return 'invalid';
  if (ip.version === 4) return `${v4String(ip.value - (ip.value % 256))}/24`;
  return `${ip.words.slice(0, 3).map((w) => w.toString(16)).join(':')}::/48`;
}

export interface Cidr {
  version: 4 | 6;
  bits: number;
  /** IPv4: the network as a number; IPv6: its eight 16-bit words. */
  value: number;
  words: number[];
}

/** Parses `a.b.c.d/n`, `x::/n` or a single address (a /32 or /128). Throws on bad input. */
export function parseCidr(text: string): Cidr {
  const [address, bitsText, extra] = text.trim().split('/');
  const ip = parseIp(address ?? '');
  if (!ip || extra !== undefined) throw new Error(`not an address or CIDR range: ${JSON.stringify(text)}`);
  const max = ip.version === 4 ? 32 : 128;
  const bits = bitsText === undefined ? max : Number(bitsText);
  if (!/^\d{1,3}$/.test(bitsText ?? String(max)) || bits > max) throw new Error(`bad prefix length in ${JSON.stringify(text)}`);
  if (ip.version === 4) {
    const size = 2 ** (32 - bits);
    return { version: 4, bits, value: ip.value - (ip.value % size), words: [] };
  }
  return { version: 6, bits, value: 0, words: ip.words };
}

function v6Matches(words: number[], cidr: Cidr): boolean {
  let remaining = cidr.bits;
  for (let i = 0; i < 8 && remaining > 0; i++) {
    const take = Math.min(16, remaining);
    const mask = (0xffff << (16 - take)) & 0xffff;
    if ((words[i] & mask) !== (cidr.words[i] & mask)) return false;
    remaining -= take;
  }
  return true;
}

export function cidrContains(cidr: Cidr, address: ParsedIp | string): boolean {
  const ip = typeof address === 'string' ? parseIp(address) : address;
  if (!ip || ip.version !== cidr.version) return false;
  if (ip.version === 4) {
    const size = 2 ** (32 - cidr.bits);
    return ip.value - (ip.value % size) === cidr.value;
  }
  return v6Matches(ip.words, cidr);
}

const RESERVED = [
  '0.0.0.0/8', '10.0.0.0/8', '100.64.0.0/10', '127.0.0.0/8', '169.254.0.0/16', '172.16.0.0/12',
  '192.0.0.0/24', '192.0.2.0/24', '192.88.99.0/24', '192.168.0.0/16', '198.18.0.0/15',
  '198.51.100.0/24', '203.0.113.0/24', '224.0.0.0/4', '240.0.0.0/4',
  '::/128', '::1/128', '64:ff9b:1::/48', '100::/64', '2001::/23', '2001:db8::/32',
  'fc00::/7', 'fe80::/10', 'ff00::/8',
].map(parseCidr);

/**
 * True for addresses that do not say where a person is: private (RFC 1918, ULA), loopback,
 * link-local, carrier-grade NAT, documentation, multicast and other reserved ranges, and
 * anything that does not parse.
 */
export function isPrivateOrReserved(text: string): boolean {
  const ip = parseIp(text);
  if (!ip) return true;
  return RESERVED.some((cidr) => cidrContains(cidr, ip));
}

/**
 * Compiles operator CIDR lists (`{ anonymizer: ['198.51.100.0/24'], … }`) into a function from an
 * address to the tags of the lists containing it, in list order. Throws on a bad range.
 */
export function compileNetworkLists(lists: Record<string, readonly string[]>): (ip: string) => string[] {
  const compiled = Object.entries(lists).map(([tag, cidrs]) => ({ tag, cidrs: cidrs.map(parseCidr) }));
  return (text: string) => {
    const ip = parseIp(text);
    if (!ip) return [];
    const tags: string[] = [];
    for (const { tag, cidrs } of compiled) {
      if (cidrs.some((cidr) => cidrContains(cidr, ip))) tags.push(tag);
    }
    return tags;
  };
}
