import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { createRequire } from 'node:module';
import { isIP } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { ConfigError } from '../config/index.ts';

/** A place from geoip-lite's city database; empty strings where the database has none. */
export interface GeoRecord {
  country: string;
  region: string;
  city: string;
  lat: number;
  lon: number;
  /** Accuracy radius in km, 0 when the database gives none. */
  areaKm: number;
}

/** Where a range file keeps things in a record. IPv6 keys are the first 64 bits: all geoip-lite compares. */
interface Layout {
  recordSize: number;
  endOffset: number;
  keyWords: 1 | 2;
  /** Location id (u32), then lat, lon (i32, 1/10000 degree) and area (u32, km). */
  locationOffset: number;
}

const IPV4: Layout = { recordSize: 24, endOffset: 4, keyWords: 1, locationOffset: 8 };
const IPV6: Layout = { recordSize: 48, endOffset: 16, keyWords: 2, locationOffset: 32 };
const LOCATION_SIZE = 88;
const NO_LOCATION = 0xffffffff;
/** A search narrowed to this many records reads them with one pread. */
const BLOCK_RECORDS = 256;
const PRIVATE_V4: ReadonlyArray<readonly [number, number]> = [
  [0x0a000000, 0x0affffff], [0xac100000, 0xac1fffff], [0xc0a80000, 0xc0a8ffff],
];

/** `GEODATADIR` (where geoip-lite's updatedb script writes), else the data geoip-lite ships with. */
export function geoDataDir(): string {
  if (process.env.GEODATADIR) return resolve(process.env.GEODATADIR);
  return join(dirname(createRequire(import.meta.url).resolve('geoip-lite/package.json')), 'data');
}

function compare(a0: number, a1: number, b0: number, b1: number): number {
  if (a0 !== b0) return a0 < b0 ? -1 : 1;
  return a1 === b1 ? 0 : a1 < b1 ? -1 : 1;
}

function openData(path: string, recordSize: number): { fd: number; records: number } {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new ConfigError(`GEODATADIR: cannot read geoip-lite's ${path}: ${code === 'ENOENT' ? 'no such file' : (err as Error).message}`);
  }
  const size = fstatSync(fd).size;
  if (size === 0 || size % recordSize !== 0) {
    closeSync(fd);
    throw new ConfigError(`GEODATADIR: ${path} is not a geoip-lite city data file (${size} bytes, not whole ${recordSize}-byte records)`);
  }
  return { fd, records: size / recordSize };
}

function readFully(fd: number, into: Buffer, length: number, position: number, path: string): void {
  if (readSync(fd, into, 0, length, position) !== length) throw new Error(`geo database: ${path} ended early (changed while open?)`);
}

interface Hit { locationId: number; lat: number; lon: number; areaKm: number }

/**
 * One of geoip-lite's sorted range files, searched with geoip-lite's own bisection. The same
 * bisection matters: the IPv6 file is not sorted by the 64 bits compared and many neighbouring
 * records share them, so which record an address gets depends on the path the search takes.
 * The first steps of that path are the same few records for every address; their keys are held
 * in memory (`probes`, a binary tree: node k's children are 2k+1 and 2k+2), the rest is one
 * block read from the file.
 */
class RangeFile {
  readonly #path: string;
  readonly #layout: Layout;
  readonly #fd: number;
  readonly #lastLine: number;
  readonly #first: readonly [number, number];
  readonly #last: readonly [number, number];
  /** Per node: start key (2 words), end key (2 words). */
  readonly #probes: Uint32Array;
  readonly #block: Buffer;

  constructor(path: string, layout: Layout) {
    const { fd, records } = openData(path, layout.recordSize);
    this.#path = path;
    this.#layout = layout;
    this.#fd = fd;
    this.#lastLine = records - 1;
    this.#block = Buffer.alloc(BLOCK_RECORDS * layout.recordSize);
    try {
      [this.#probes, this.#first, this.#last] = this.#readProbes();
    } catch (err) {
      closeSync(fd);
      throw err;
    }
  }

  close(): void {
    closeSync(this.#fd);
  }

  #readProbes(): [Uint32Array, [number, number], [number, number]] {
    const nodes: number[] = [];
    const visit = (low: number, high: number, node: number) => {
      if (high - low + 1 <= BLOCK_RECORDS) return;
      const line = (low + high) >>> 1;
      nodes.push(node, line);
      visit(low, line, 2 * node + 1);
      visit(line, high, 2 * node + 2);
    };
    visit(0, this.#lastLine, 0);
    let size = 0;
    for (let i = 0; i < nodes.length; i += 2) size = Math.max(size, nodes[i] + 1);
    const probes = new Uint32Array(size * 4);
    for (let i = 0; i < nodes.length; i += 2) {
      this.#read(nodes[i + 1], 1);
      this.#keysAt(0, probes, nodes[i] * 4);
    }
    const keys = new Uint32Array(4);
    this.#read(0, 1);
    this.#keysAt(0, keys, 0);
    const first: [number, number] = [keys[0], keys[1]];
    this.#read(this.#lastLine, 1);
    this.#keysAt(0, keys, 0);
    return [probes, first, [keys[2], keys[3]]];
  }

  /** The record geoip-lite's lookup finds for the key, if it has a location. */
  find(hi: number, lo: number): Hit | undefined {
    if (compare(hi, lo, this.#last[0], this.#last[1]) > 0 || compare(hi, lo, this.#first[0], this.#first[1]) < 0) return undefined;
    const probes = this.#probes;
    let low = 0;
    let high = this.#lastLine;
    let node = 0;
    while (high - low + 1 > BLOCK_RECORDS) {
      const line = (low + high) >>> 1;
      const at = node * 4;
      const fromStart = compare(probes[at], probes[at + 1], hi, lo);
      if (fromStart <= 0 && compare(probes[at + 2], probes[at + 3], hi, lo) >= 0) {
        this.#read(line, 1);
        return this.#hitAt(0);
      }
      if (fromStart > 0) {
        high = line;
        node = 2 * node + 1;
      } else {
        low = line;
        node = 2 * node + 2;
      }
    }

    const { recordSize, endOffset, keyWords } = this.#layout;
    const block = this.#block;
    const base = low;
    this.#read(low, high - low + 1);
    for (;;) {
      const line = (low + high) >>> 1;
      const offset = (line - base) * recordSize;
      const fromStart = compare(block.readUInt32BE(offset), keyWords === 2 ? block.readUInt32BE(offset + 4) : 0, hi, lo);
      const fromEnd = compare(block.readUInt32BE(offset + endOffset), keyWords === 2 ? block.readUInt32BE(offset + endOffset + 4) : 0, hi, lo);
      if (fromStart <= 0 && fromEnd >= 0) return this.#hitAt(offset);
      if (low === high) return undefined;
      if (low === high - 1) low = high; // line is low here: geoip-lite tries high last
      else if (fromStart > 0) high = line;
      else low = line;
    }
  }

  /** Reads `count` records from `line` to the start of the block. */
  #read(line: number, count: number): void {
    const { recordSize } = this.#layout;
    readFully(this.#fd, this.#block, count * recordSize, line * recordSize, this.#path);
  }

  #keysAt(offset: number, into: Uint32Array, at: number): void {
    const { endOffset, keyWords } = this.#layout;
    const block = this.#block;
    into[at] = block.readUInt32BE(offset);
    into[at + 1] = keyWords === 2 ? block.readUInt32BE(offset + 4) : 0;
    into[at + 2] = block.readUInt32BE(offset + endOffset);
    into[at + 3] = keyWords === 2 ? block.readUInt32BE(offset + endOffset + 4) : 0;
  }

  #hitAt(offset: number): Hit | undefined {
    const at = offset + this.#layout.locationOffset;
    const block = this.#block;
    const locationId = block.readUInt32BE(at);
    if (locationId === NO_LOCATION) return undefined;
    return { locationId, lat: block.readInt32BE(at + 4) / 10000, lon: block.readInt32BE(at + 8) / 10000, areaKm: block.readUInt32BE(at + 12) };
  }
}

/** geoip-lite's string fields: up to the first NUL. */
function text(buffer: Buffer, start: number, end: number): string {
  const nul = buffer.indexOf(0, start);
  return buffer.toString('utf8', start, nul >= start && nul < end ? nul : end);
}

/** geoip-lite's aton4: no validation, an odd string gives an odd number, as in geoip-lite. */
function aton4(address: string): number {
  let value = 0;
  let octet = 0;
  for (let i = 0; i <= address.length; i++) {
    if (i === address.length || address.charCodeAt(i) === 46) {
      value = ((value << 8) | octet) >>> 0;
      octet = 0;
    } else {
      octet = octet * 10 + (address.charCodeAt(i) - 48);
    }
  }
  return value;
}

/**
 * geoip-lite's aton6, quirks kept (without `::` it shifts the groups by one; a trailing dotted
 * IPv4 is read as a hex group), and only its first two words: all its lookups compare.
 */
function aton6Head(address: string): [number, number] {
  const groups: Array<string | number> = address.replace(/"/g, '').split(':');
  const last = groups.length - 1;
  if (groups[last] === '') groups[last] = 0;
  if (last < 7) {
    const omitted = 8 - groups.length;
    const omitStart = groups.indexOf('');
    const omitEnd = omitStart + 8 - groups.length;
    for (let i = 7; i >= omitStart; i--) groups[i] = i > omitEnd ? groups[i - omitted] : 0;
  }
  const group = (i: number) => (groups[i] ? parseInt(String(groups[i]), 16) : 0);
  return [((group(0) << 16) + group(1)) >>> 0, ((group(2) << 16) + group(3)) >>> 0];
}

/** The IPv4 part of `::ffff:a.b.c.d` (or `0:0:0:0:0:ffff:…`), which geoip-lite looks up as IPv4. */
function v4Mapped(address: string): string | undefined {
  const upper = address.toUpperCase();
  for (const prefix of ['0:0:0:0:0:FFFF:', '::FFFF:']) {
    if (upper.startsWith(prefix)) return upper.slice(prefix.length);
  }
  return undefined;
}

/**
 * geoip-lite's city database read from its own data files on demand, with the same answers as
 * geoip-lite's `lookup`. geoip-lite reads the files whole into the heap (105 MB); here they stay
 * in the OS page cache and a lookup costs one or two block reads and one location read.
 * The files stay open: geoip-lite's updatedb deletes and rewrites them, so an open database keeps
 * answering from the files it opened until the next start.
 */
export class GeoDatabase {
  readonly #v4: RangeFile;
  readonly #v6: RangeFile;
  readonly #locationsPath: string;
  readonly #locationsFd: number;
  readonly #location = Buffer.alloc(LOCATION_SIZE);

  /** Opens the city files in `dir`; throws a ConfigError naming the file when one is missing or malformed. */
  static open(dir: string = geoDataDir()): GeoDatabase {
    return new GeoDatabase(dir);
  }

  private constructor(dir: string) {
    this.#locationsPath = join(dir, 'geoip-city-names.dat');
    this.#locationsFd = openData(this.#locationsPath, LOCATION_SIZE).fd;
    const opened: RangeFile[] = [];
    try {
      opened.push(new RangeFile(join(dir, 'geoip-city.dat'), IPV4));
      opened.push(new RangeFile(join(dir, 'geoip-city6.dat'), IPV6));
    } catch (err) {
      for (const file of opened) file.close();
      closeSync(this.#locationsFd);
      throw err;
    }
    [this.#v4, this.#v6] = opened;
  }

  lookup(address: string): GeoRecord | undefined {
    const version = isIP(address);
    if (version === 4) return this.#lookup4(aton4(address));
    if (version !== 6) return undefined;
    const mapped = v4Mapped(address);
    if (mapped !== undefined) return this.#lookup4(aton4(mapped));
    const [hi, lo] = aton6Head(address);
    return this.#place(this.#v6.find(hi, lo));
  }

  close(): void {
    this.#v4.close();
    this.#v6.close();
    closeSync(this.#locationsFd);
  }

  #lookup4(ip: number): GeoRecord | undefined {
    if (PRIVATE_V4.some(([first, last]) => ip >= first && ip <= last)) return undefined;
    return this.#place(this.#v4.find(ip, 0));
  }

  #place(hit: Hit | undefined): GeoRecord | undefined {
    if (!hit) return undefined;
    const location = this.#location;
    readFully(this.#locationsFd, location, LOCATION_SIZE, hit.locationId * LOCATION_SIZE, this.#locationsPath);
    return {
      country: text(location, 0, 2),
      region: text(location, 2, 5),
      city: text(location, 42, LOCATION_SIZE),
      lat: hit.lat,
      lon: hit.lon,
      areaKm: hit.areaKm,
    };
  }
}
