import { cidrContains, compileNetworkLists, ipPrefix, isPrivateOrReserved, parseCidr, parseIp } from '../../../src/risk/index.ts';

describe('ipPrefix: /24 for IPv4, /48 for IPv6', () => {
  test.each([
    ['81.2.69.142', '81.2.69.0/24'],
    ['81.2.69.0', '81.2.69.0/24'],
    ['255.255.255.255', '255.255.255.0/24'],
    ['::ffff:81.2.69.142', '81.2.69.0/24'],
    ['2001:db8:1234:5678::1', '2001:db8:1234::/48'],
    ['2a00:1450:4009:81f::200e', '2a00:1450:4009::/48'],
    ['2A00:1450:4009:81F::200E', '2a00:1450:4009::/48'],
    ['::1', '0:0:0::/48'],
    ['fe80::1%eth0', 'fe80:0:0::/48'],
    ['2001:db8::', '2001:db8:0::/48'],
    ['1:2:3:4:5:6:7:8', '1:2:3::/48'],
    ['::ffff:1.2.3.4', '1.2.3.0/24'],
    ['not-an-ip', 'invalid'],
    ['256.1.1.1', 'invalid'],
    ['1.2.3', 'invalid'],
    ['01.2.3.4', 'invalid'],
    ['1:2:3:4:5:6:7:8:9', 'invalid'],
    ['1::2::3', 'invalid'],
    ['', 'invalid'],
  ])('%s → %s', (ip, prefix) => {
    expect(ipPrefix(ip)).toBe(prefix);
  });
});

describe('isPrivateOrReserved', () => {
  test.each([
    ['10.1.2.3', true],
    ['172.16.0.1', true],
    ['172.31.255.255', true],
    ['172.32.0.1', false],
    ['192.168.1.1', true],
    ['127.0.0.1', true],
    ['169.254.10.10', true],
    ['100.64.0.1', true],
    ['100.128.0.1', false],
    ['192.0.2.10', true],
    ['198.51.100.7', true],
    ['203.0.113.9', true],
    ['224.0.0.1', true],
    ['0.0.0.0', true],
    ['81.2.69.142', false],
    ['8.8.8.8', false],
    ['::1', true],
    ['::', true],
    ['fd12:3456::1', true],
    ['fe80::1', true],
    ['ff02::1', true],
    ['2001:db8::1', true],
    ['2a00:1450:4009:81f::200e', false],
    ['::ffff:192.168.0.1', true],
    ['::ffff:8.8.8.8', false],
    ['garbage', true],
  ])('%s → %s', (ip, expected) => {
    expect(isPrivateOrReserved(ip)).toBe(expected);
  });
});

describe('CIDR ranges', () => {
  test.each([
    ['10.0.0.0/8', '10.255.1.1', true],
    ['10.0.0.0/8', '11.0.0.1', false],
    ['198.51.100.0/24', '198.51.100.200', true],
    ['198.51.100.0/24', '198.51.101.1', false],
    ['198.51.100.7', '198.51.100.7', true],
    ['198.51.100.7', '198.51.100.8', false],
    ['0.0.0.0/0', '1.2.3.4', true],
    ['0.0.0.0/0', '::1', false],
    ['2001:db8::/32', '2001:db8:ffff::1', true],
    ['2001:db8::/32', '2001:db9::1', false],
    ['2001:db8:abcd:12::/63', '2001:db8:abcd:13::1', true],
    ['2001:db8:abcd:12::/63', '2001:db8:abcd:14::1', false],
    ['::/0', '2a00::1', true],
    ['10.0.0.0/8', '::ffff:10.1.1.1', true],
  ])('%s contains %s: %s', (cidr, ip, expected) => {
    expect(cidrContains(parseCidr(cidr), ip)).toBe(expected);
  });

  test.each(['10.0.0.0/33', '10.0.0.0/x', 'nope/8', '2001:db8::/129', '1.2.3.4/8/9', ''])('%j is rejected', (cidr) => {
    expect(() => parseCidr(cidr)).toThrow(/CIDR|prefix/);
  });

  test('operator lists map an address to its tags, in list order', () => {
    const tags = compileNetworkLists({ anonymizer: ['198.51.100.0/24', '2001:db8:dead::/48'], corporate: ['10.0.0.0/8'], known_bad: ['198.51.100.66'] });
    expect(tags('198.51.100.66')).toEqual(['anonymizer', 'known_bad']);
    expect(tags('10.2.3.4')).toEqual(['corporate']);
    expect(tags('2001:db8:dead:1::5')).toEqual(['anonymizer']);
    expect(tags('8.8.8.8')).toEqual([]);
    expect(tags('not-an-ip')).toEqual([]);
    expect(() => compileNetworkLists({ bad: ['10.0.0.0/99'] })).toThrow();
  });

  test('parseIp returns IPv4-mapped IPv6 as IPv4', () => {
    expect(parseIp('::ffff:1.2.3.4')).toEqual({ version: 4, value: 0x01020304 });
    expect(parseIp('::ffff:0102:0304')).toEqual({ version: 4, value: 0x01020304 });
  });
});
