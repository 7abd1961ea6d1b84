import { ProxyTrust } from '../../src/http/index.ts';

describe('client address behind proxies (TRUST_PROXY)', () => {
  const trust = new ProxyTrust(['10.0.0.0/8', '::1/128']);

  test.each([
    ['no proxies trusted: the socket address, X-Forwarded-For ignored', new ProxyTrust([]), '10.1.1.1', '203.0.113.9', '10.1.1.1'],
    ['untrusted socket: X-Forwarded-For ignored', trust, '198.51.100.7', '203.0.113.9', '198.51.100.7'],
    ['trusted proxy: the address it saw', trust, '10.1.1.1', '203.0.113.9', '203.0.113.9'],
    ['client-supplied left-most entries are skipped', trust, '10.1.1.1', '1.2.3.4, 203.0.113.9', '203.0.113.9'],
    ['a chain of trusted proxies is walked from the right', trust, '10.1.1.1', '203.0.113.9, 10.2.2.2, 10.3.3.3', '203.0.113.9'],
    ['IPv4-mapped IPv6 socket addresses are normalised', trust, '::ffff:10.1.1.1', '203.0.113.9', '203.0.113.9'],
    ['garbage in X-Forwarded-For is ignored', trust, '10.1.1.1', 'evil, 203.0.113.9', '203.0.113.9'],
    ['only proxies in the header: the left-most proxy', trust, '10.1.1.1', '10.2.2.2', '10.2.2.2'],
  ])('%s', (_name, proxies, socket, header, expected) => {
    expect(proxies.clientIp(socket, header)).toBe(expected);
  });

  test('single addresses and ranges', () => {
    expect(trust.isTrusted('::1')).toBe(true);
    expect(trust.isTrusted('10.255.0.1')).toBe(true);
    expect(trust.isTrusted('11.0.0.1')).toBe(false);
    expect(trust.isTrusted('not-an-ip')).toBe(false);
  });
});
