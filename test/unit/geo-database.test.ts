/**
 * The geo database reads geoip-lite's data files on demand and must answer exactly as geoip-lite
 * does (which reads them whole into memory): same record, same place, same "nothing", for IPv4,
 * IPv6 (where geoip-lite compares only the first 64 bits and its own search path picks among
 * records sharing them) and IPv4-mapped IPv6.
 */
import { spawnSync } from 'node:child_process';
import { closeSync, fstatSync, mkdirSync, mkdtempSync, openSync, readSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import geoip from 'geoip-lite';
import { ConfigError } from '../../src/config/index.ts';
import { GeoDatabase, geoDataDir, lookupGeo } from '../../src/geo/index.ts';
import { isPrivateOrReserved } from '../../src/risk/index.ts';
import { ROOT, runScript } from '../support/vigil-process.ts';

const dataDir = geoDataDir();
let db: GeoDatabase;
beforeAll(() => { db = GeoDatabase.open(); });
afterAll(() => db?.close());

function mulberry32(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const v4 = (n: number) => `${n >>> 24}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`;
const v6 = (bytes: Buffer) => Array.from({ length: 8 }, (_, i) => bytes.readUInt16BE(2 * i).toString(16)).join(':');

/** geoip-lite's answer in our shape; records without a location (no `area`) are no answer. */
function expected(ip: string) {
  const found = geoip.lookup(ip);
  if (!found || found.area === undefined) return undefined;
  return { country: found.country, region: found.region, city: found.city, lat: found.ll[0], lon: found.ll[1], areaKm: found.area };
}

function mismatches(ips: string[]) {
  return ips.map((ip) => ({ ip, ours: db.lookup(ip), geoipLite: expected(ip) }))
    .filter(({ ours, geoipLite }) => JSON.stringify(ours) !== JSON.stringify(geoipLite));
}

/** Records read from the file itself, at the indexes `pick` chooses out of the file's record count. */
function readRecords(file: string, size: number, pick: (count: number) => number[]): Buffer[] {
  const fd = openSync(join(dataDir, file), 'r');
  try {
    return pick(fstatSync(fd).size / size).map((index) => {
      const record = Buffer.alloc(size);
      readSync(fd, record, 0, size, index * size);
      return record;
    });
  } finally {
    closeSync(fd);
  }
}

describe('same answers as geoip-lite', () => {
  test('20,000 pseudo-random IPv4 addresses', () => {
    const random = mulberry32(20_260_301);
    const ips = Array.from({ length: 20_000 }, () => v4((random() * 2 ** 32) >>> 0));
    const located = ips.filter((ip) => expected(ip) !== undefined).length;
    expect(located).toBeGreaterThan(10_000);
    expect(mismatches(ips)).toEqual([]);
  });

  test('the first and last addresses of the IPv4 file, and just outside them', () => {
    const [first, last] = readRecords('geoip-city.dat', 24, (count) => [0, count - 1]);
    const firstIp = first.readUInt32BE(0);
    const lastIp = last.readUInt32BE(4);
    const ips = [firstIp, firstIp - 1, lastIp, lastIp + 1].filter((n) => n >= 0 && n < 2 ** 32).map(v4);
    expect(db.lookup(v4(firstIp))).toBeDefined();
    expect(mismatches(ips)).toEqual([]);
  });

  test('starts and ends of 400 random IPv6 records, and addresses inside them', () => {
    const random = mulberry32(6);
    const ips = readRecords('geoip-city6.dat', 48, (count) => Array.from({ length: 400 }, () => Math.floor(random() * count))).flatMap((record) => {
      const inside = Buffer.from(record.subarray(0, 16));
      inside.writeUInt16BE(Math.floor(random() * 65536), 14);
      return [v6(record.subarray(0, 16)), v6(record.subarray(16, 32)), v6(inside)];
    });
    expect(ips.filter((ip) => expected(ip) !== undefined).length).toBeGreaterThan(300);
    expect(mismatches(ips)).toEqual([]);
  });

  test('IPv4-mapped IPv6, odd IPv6 spellings and things that are not addresses', () => {
    const random = mulberry32(4);
    const mapped = Array.from({ length: 200 }, (_, i) => {
      const ip = v4((random() * 2 ** 32) >>> 0);
      return i % 2 ? `::ffff:${ip}` : `0:0:0:0:0:FFFF:${ip}`;
    });
    const odd = [
      '::ffff:81.2.69.160', '::FFFF:1.128.0.1', '::ffff:0102:0304', '::1', '::', '2a02:c7f::1', '2001:4860:4860::8888',
      '2a00:1450:4009:81f::200e', '2a00:1450:4009:81f:0:0:0:200e', '2a00:1450:4009:81f::1.2.3.4', '1:2:3:4:5:6:1.2.3.4',
      'fe80::1%eth0', '10.1.2.3', '172.16.0.1', '192.168.1.1', '127.0.0.1', '0.0.0.0', '255.255.255.255', '', 'nonsense', ' 8.8.8.8',
    ];
    expect(mapped.filter((ip) => expected(ip) !== undefined).length).toBeGreaterThan(100);
    expect(mismatches([...mapped, ...odd])).toEqual([]);
  });
});

describe('lookupGeo', () => {
  test('the same places as geoip-lite gave through the old lookupGeo', () => {
    const random = mulberry32(99);
    const ips = Array.from({ length: 2_000 }, () => v4((random() * 2 ** 32) >>> 0));
    for (const ip of ips) {
      const found = isPrivateOrReserved(ip) ? null : geoip.lookup(ip);
      const old = found?.country ? {
        country: found.country, region: found.region || undefined, city: found.city || undefined,
        lat: found.ll[0], lon: found.ll[1], accuracyKm: found.area || 1000,
      } : undefined;
      expect({ ip, place: lookupGeo(ip) }).toEqual({ ip, place: old });
    }
    expect(lookupGeo('81.2.69.160')).toMatchObject({ country: 'GB' });
    expect(lookupGeo('10.1.2.3')).toBeUndefined();
  });

  test('a repeated address is answered from the cache: the same (frozen) object', () => {
    const first = lookupGeo('1.128.0.1');
    expect(first).toMatchObject({ country: 'AU' });
    expect(lookupGeo('1.128.0.1')).toBe(first);
    expect(Object.isFrozen(first)).toBe(true);
    expect(lookupGeo('203.0.113.9')).toBeUndefined();
  });

  test('does not load geoip-lite: the heap holds no 105 MB of data files', () => {
    const script = `
      const { lookupGeo } = await import('./src/geo/index.ts');
      for (let i = 0; i < 2000; i++) lookupGeo(\`\${1 + (i % 200)}.\${i % 250}.7.9\`);
      process.stdout.write(JSON.stringify(process.memoryUsage()));`;
    const run = spawnSync(process.execPath, ['--disable-warning=ExperimentalWarning', '--input-type=module', '-e', script], { cwd: ROOT, encoding: 'utf8' });
    expect(run.stderr).toBe('');
    expect(JSON.parse(run.stdout).arrayBuffers).toBeLessThan(10 * 1024 * 1024);
  });
});

describe('missing or broken data files', () => {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-geo-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  test('a missing directory is a ConfigError naming GEODATADIR and the file', () => {
    const missing = join(dir, 'nowhere');
    expect(() => GeoDatabase.open(missing)).toThrow(ConfigError);
    expect(() => GeoDatabase.open(missing)).toThrow(`GEODATADIR: cannot read geoip-lite's ${join(missing, 'geoip-city-names.dat')}: no such file`);
  });

  test('a missing city file is named; a file that is not whole records is refused', () => {
    const made = join(dir, 'made');
    mkdirSync(made);
    symlinkSync(join(dataDir, 'geoip-city-names.dat'), join(made, 'geoip-city-names.dat'));
    symlinkSync(join(dataDir, 'geoip-city6.dat'), join(made, 'geoip-city6.dat'));
    expect(() => GeoDatabase.open(made)).toThrow(`${join(made, 'geoip-city.dat')}: no such file`);
    writeFileSync(join(made, 'geoip-city.dat'), Buffer.alloc(25));
    expect(() => GeoDatabase.open(made)).toThrow(/geoip-city\.dat is not a geoip-lite city data file \(25 bytes/);
  });

  test('GEODATADIR is where the files are looked for', () => {
    const before = process.env.GEODATADIR;
    process.env.GEODATADIR = join(dir, 'elsewhere');
    try {
      expect(geoDataDir()).toBe(join(dir, 'elsewhere'));
      expect(() => GeoDatabase.open()).toThrow(join(dir, 'elsewhere', 'geoip-city-names.dat'));
    } finally {
      if (before === undefined) delete process.env.GEODATADIR;
      else process.env.GEODATADIR = before;
    }
  });

  test('the server refuses to start without them, in one line', async () => {
    const result = await runScript('src/main.ts', [], {
      HOST: '127.0.0.1', PORT: '0', VIGIL_DATA_DIR: join(dir, 'data'), GEODATADIR: join(dir, 'nowhere'),
    });
    expect(result.code).toBe(1);
    expect(result.stderr).toBe(`vigil: GEODATADIR: cannot read geoip-lite's ${join(dir, 'nowhere', 'geoip-city-names.dat')}: no such file\n`);
    expect(result.stdout).not.toMatch(/Vigil is listening/);
  });
});
