/** endUserOf: whose address and agent a token request carries (public vs confidential clients, forwarding headers). */
import { errors, type KoaContextWithOIDC } from 'oidc-provider';
import { endUserOf, END_USER_AGENT_HEADER, END_USER_IP_HEADER, type EndUser } from '../../../src/verification/index.ts';

const CLIENT_IP = '198.51.100.20';
const CLIENT_AGENT = 'client-server/1.0';

interface FakeRequest {
  authMethod: string;
  forwards?: boolean | string;
  headers?: Record<string, string>;
  /** null: ctx.state has no clientIp. */
  clientIp?: string | null;
  koaIp?: string;
}

/** The parts of a KoaContextWithOIDC that endUserOf reads. */
function fakeCtx({ authMethod, forwards, headers = {}, clientIp = CLIENT_IP, koaIp = '10.9.9.9' }: FakeRequest): KoaContextWithOIDC {
  const lower = Object.fromEntries(Object.entries({ 'user-agent': CLIENT_AGENT, ...headers }).map(([k, v]) => [k.toLowerCase(), v]));
  const metadata = forwards === undefined ? {} : { vigil_forwards_end_user: forwards };
  return {
    oidc: { client: { clientId: 'c1', clientAuthMethod: authMethod, metadata: () => metadata } },
    state: clientIp === null ? {} : { clientIp },
    ip: koaIp,
    // Koa's ctx.get: case-insensitive, '' when absent.
    get: (name: string) => lower[name.toLowerCase()] ?? '',
  } as unknown as KoaContextWithOIDC;
}

const fwd = (ip?: string, agent?: string) => ({
  ...(ip !== undefined ? { 'Vigil-End-User-IP': ip } : {}),
  ...(agent !== undefined ? { 'Vigil-End-User-Agent': agent } : {}),
});

const own = (ipIsUser: boolean): EndUser => ({ ip: CLIENT_IP, userAgent: CLIENT_AGENT, ipIsUser, forwarded: false });

describe('endUserOf', () => {
  test('header names are the lower-case forms of the documented ones', () => {
    expect(END_USER_IP_HEADER).toBe('vigil-end-user-ip');
    expect(END_USER_AGENT_HEADER).toBe('vigil-end-user-agent');
  });

  test.each<[string, FakeRequest, EndUser]>([
    ['public client: its own address and agent are the person\'s', { authMethod: 'none' }, own(true)],
    ['public client: forwarding headers are ignored even if its metadata allows them',
      { authMethod: 'none', forwards: true, headers: fwd('203.0.113.5', 'Forged/1.0') }, own(true)],
    ['confidential client without vigil_forwards_end_user: not the person, headers ignored',
      { authMethod: 'client_secret_basic', headers: fwd('203.0.113.5', 'Browser/1.0') }, own(false)],
    ['confidential client with vigil_forwards_end_user false: headers ignored',
      { authMethod: 'client_secret_post', forwards: false, headers: fwd('203.0.113.5', 'Browser/1.0') }, own(false)],
    ['confidential client with vigil_forwards_end_user "true" (a string, not true): headers ignored',
      { authMethod: 'private_key_jwt', forwards: 'true', headers: fwd('203.0.113.5', 'Browser/1.0') }, own(false)],
    ['allowed + IPv4 header: forwarded',
      { authMethod: 'client_secret_basic', forwards: true, headers: fwd('203.0.113.5', 'Browser/1.0') },
      { ip: '203.0.113.5', userAgent: 'Browser/1.0', ipIsUser: true, forwarded: true }],
    ['allowed + IPv4 header with surrounding spaces: trimmed',
      { authMethod: 'client_secret_basic', forwards: true, headers: fwd('  203.0.113.5 ', 'Browser/1.0') },
      { ip: '203.0.113.5', userAgent: 'Browser/1.0', ipIsUser: true, forwarded: true }],
    ['allowed + IPv6 header: forwarded as is',
      { authMethod: 'client_secret_basic', forwards: true, headers: fwd('2001:db8::42', 'Browser/2.0') },
      { ip: '2001:db8::42', userAgent: 'Browser/2.0', ipIsUser: true, forwarded: true }],
    ['allowed + ::ffff:-mapped IPv4 header: reduced to the IPv4 address',
      { authMethod: 'client_secret_basic', forwards: true, headers: fwd('::ffff:203.0.113.5', 'Browser/1.0') },
      { ip: '203.0.113.5', userAgent: 'Browser/1.0', ipIsUser: true, forwarded: true }],
    ['allowed + address but no agent header: forwarded with an empty agent',
      { authMethod: 'client_secret_basic', forwards: true, headers: fwd('203.0.113.5') },
      { ip: '203.0.113.5', userAgent: '', ipIsUser: true, forwarded: true }],
    ['allowed + agent of exactly 512 characters: accepted',
      { authMethod: 'client_secret_basic', forwards: true, headers: fwd('203.0.113.5', 'a'.repeat(512)) },
      { ip: '203.0.113.5', userAgent: 'a'.repeat(512), ipIsUser: true, forwarded: true }],
    ['allowed but no headers: the client\'s server, not the person',
      { authMethod: 'client_secret_basic', forwards: true }, own(false)],
    ['allowed, agent header only (no address): not forwarded',
      { authMethod: 'client_secret_basic', forwards: true, headers: fwd(undefined, 'Browser/1.0') }, own(false)],
    ['allowed, blank address header: not forwarded',
      { authMethod: 'client_secret_basic', forwards: true, headers: fwd('   ', 'Browser/1.0') }, own(false)],
  ])('%s', (_name, request, expected) => {
    expect(endUserOf(fakeCtx(request))).toEqual(expected);
  });

  test('without ctx.state.clientIp, falls back to ctx.ip', () => {
    expect(endUserOf(fakeCtx({ authMethod: 'none', clientIp: null, koaIp: '192.0.2.77' })).ip).toBe('192.0.2.77');
  });

  test('the request\'s own user agent is cut to 512 characters', () => {
    const user = endUserOf(fakeCtx({ authMethod: 'none', headers: { 'user-agent': 'x'.repeat(2000) } }));
    expect(user.userAgent).toBe('x'.repeat(512));
  });

  test.each<[string, Record<string, string>, RegExp]>([
    ['a host name', fwd('client.example.com', 'Browser/1.0'), /Vigil-End-User-IP/],
    ['two addresses', fwd('203.0.113.5, 198.51.100.1', 'Browser/1.0'), /Vigil-End-User-IP/],
    ['an IPv4 address out of range', fwd('203.0.113.256', 'Browser/1.0'), /Vigil-End-User-IP/],
    ['an address with a port', fwd('203.0.113.5:443', 'Browser/1.0'), /Vigil-End-User-IP/],
    ['a CIDR range', fwd('203.0.113.0/24', 'Browser/1.0'), /Vigil-End-User-IP/],
    ['a mapped prefix around garbage', fwd('::ffff:not.an.ip', 'Browser/1.0'), /Vigil-End-User-IP/],
    ['an agent of 513 characters', fwd('203.0.113.5', 'a'.repeat(513)), /Vigil-End-User-Agent.*512/],
    ['an agent of 10,000 characters', fwd('2001:db8::1', 'a'.repeat(10_000)), /Vigil-End-User-Agent/],
  ])('allowed client sending %s: invalid_request', (_name, headers, description) => {
    const ctx = fakeCtx({ authMethod: 'client_secret_basic', forwards: true, headers });
    let thrown: unknown;
    try {
      endUserOf(ctx);
    } catch (err) {
      thrown = err;
    }
    expect(thrown).toBeInstanceOf(errors.InvalidRequest);
    const err = thrown as InstanceType<typeof errors.InvalidRequest>;
    expect(err.error).toBe('invalid_request');
    expect(err.status).toBe(400);
    expect(err.error_description).toMatch(description);
  });

  test('a malformed address from a client NOT allowed to forward is ignored, not refused', () => {
    const ctx = fakeCtx({ authMethod: 'client_secret_basic', headers: fwd('garbage', 'a'.repeat(2000)) });
    expect(endUserOf(ctx)).toEqual(own(false));
  });
});
