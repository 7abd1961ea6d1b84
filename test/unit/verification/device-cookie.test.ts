/** DeviceCookie: a MAC-signed random browser id, with a real KeyRing and a recording fake Koa context. */
import { randomBytes } from 'node:crypto';
import type { Context } from 'koa';
import { KeyRing } from '../../../src/crypto/index.ts';
import { DeviceCookie, DEVICE_COOKIE } from '../../../src/verification/index.ts';

interface SetCall {
  name: string;
  value: string | null | undefined;
  options: Record<string, unknown> | undefined;
}

interface FakeCookies {
  ctx: Context;
  gets: Array<{ name: string; options: unknown }>;
  sets: SetCall[];
}

/** A Koa context whose cookie jar holds `jar` and records every get and set. */
function fakeCtx(jar: Record<string, string> = {}): FakeCookies {
  const gets: FakeCookies['gets'] = [];
  const sets: SetCall[] = [];
  const ctx = {
    cookies: {
      get: (name: string, options?: unknown) => {
        gets.push({ name, options });
        return jar[name];
      },
      set: (name: string, value?: string | null, options?: Record<string, unknown>) => {
        sets.push({ name, value, options });
        if (typeof value === 'string') jar[name] = value;
      },
    },
  } as unknown as Context;
  return { ctx, gets, sets };
}

const ringA = new KeyRing(randomBytes(32));
const ringB = new KeyRing(randomBytes(32));
const ISSUER = 'https://idp.example.com';

/** A cookie value ringA's DeviceCookie issues. */
function issued(cookie = new DeviceCookie(ringA, ISSUER)): { id: string; value: string } {
  const { ctx, sets } = fakeCtx();
  const id = cookie.ensure(ctx);
  return { id, value: sets[0].value as string };
}

describe('DeviceCookie.ensure', () => {
  test.each([
    ['https issuer: Secure', 'https://idp.example.com', true],
    ['http issuer: not Secure', 'http://localhost:3000', false],
    ['an issuer merely containing https: not Secure', 'http://https.example.com', false],
  ])('%s', (_name, issuer, secure) => {
    const { ctx, sets } = fakeCtx();
    const id = new DeviceCookie(ringA, issuer).ensure(ctx);
    expect(id).toMatch(/^brw_[A-Za-z0-9_-]{22}$/);
    expect(sets).toHaveLength(1);
    const [call] = sets;
    expect(call.name).toBe(DEVICE_COOKIE);
    expect(DEVICE_COOKIE).toBe('vigil_device');
    expect(call.value).toMatch(new RegExp(`^${id}\\.[A-Za-z0-9_-]{43}$`));
    expect(call.options).toMatchObject({ httpOnly: true, sameSite: 'lax', secure, signed: false, path: '/', overwrite: true });
    expect(call.options?.maxAge).toBe(400 * 86_400_000);
  });

  test('every new browser gets its own id', () => {
    const ids = new Set(Array.from({ length: 50 }, () => issued().id));
    expect(ids.size).toBe(50);
  });

  test('a browser presenting a valid cookie keeps its id and no cookie is set', () => {
    const { id, value } = issued();
    const { ctx, sets } = fakeCtx({ [DEVICE_COOKIE]: value });
    expect(new DeviceCookie(ringA, ISSUER).ensure(ctx)).toBe(id);
    expect(sets).toEqual([]);
  });

  test('a forged cookie is replaced with a new id', () => {
    const { id, value } = issued();
    const forged = `${id}.${'A'.repeat(43)}`;
    expect(forged).not.toBe(value);
    const { ctx, sets } = fakeCtx({ [DEVICE_COOKIE]: forged });
    const fresh = new DeviceCookie(ringA, ISSUER).ensure(ctx);
    expect(fresh).not.toBe(id);
    expect(sets).toHaveLength(1);
    expect(sets[0].value).toMatch(new RegExp(`^${fresh}\\.`));
  });
});

describe('DeviceCookie.read', () => {
  test('accepts what ensure() set, reading the cookie unsigned (Koa keys are not involved)', () => {
    const cookie = new DeviceCookie(ringA, ISSUER);
    const jar: Record<string, string> = {};
    const first = fakeCtx(jar);
    const id = cookie.ensure(first.ctx);
    const second = fakeCtx(jar);
    expect(cookie.read(second.ctx)).toBe(id);
    expect(second.gets).toEqual([{ name: DEVICE_COOKIE, options: { signed: false } }]);
    expect(second.sets).toEqual([]);
  });

  test('another DeviceCookie over the same key ring (another instance, another issuer scheme) accepts it', () => {
    const { id, value } = issued();
    expect(new DeviceCookie(ringA, 'http://localhost:3000').read(fakeCtx({ [DEVICE_COOKIE]: value }).ctx)).toBe(id);
  });

  const { id, value } = issued();
  const mac = value.slice(value.indexOf('.') + 1);
  const flip = (s: string, at: number) => s.slice(0, at) + (s[at] === 'A' ? 'B' : 'A') + s.slice(at + 1);
  const otherRing = issued(new DeviceCookie(ringB, ISSUER)).value;

  test.each<[string, string | undefined]>([
    ['no cookie', undefined],
    ['an empty cookie', ''],
    ['a tampered id (last character)', `${flip(id, id.length - 1)}.${mac}`],
    ['a tampered id (first random character)', `${flip(id, 4)}.${mac}`],
    ['a tampered mac', `${id}.${flip(mac, 10)}`],
    ['a truncated mac', `${id}.${mac.slice(0, -1)}`],
    ['a mac with extra characters', `${id}.${mac}A`],
    ['an empty mac', `${id}.`],
    ['the id alone (no dot)', id],
    ['no dot at all, long', `${id}${mac}`],
    ['another key ring\'s cookie', otherRing],
    ['the right mac for another key ring\'s id', `${otherRing.slice(0, otherRing.indexOf('.'))}.${mac}`],
    ['a wrong prefix', `dev_${id.slice(4)}.${mac}`],
    ['an upper-case prefix', `BRW_${id.slice(4)}.${mac}`],
    ['an id one character too long', `${id}x.${mac}`],
    ['an id one character too short', `${id.slice(0, -1)}.${mac}`],
    ['a very long value', `${id}.${'A'.repeat(10_000)}`],
    ['a very long id', `brw_${'A'.repeat(10_000)}.${mac}`],
    ['characters outside base64url in the id', `brw_${'+'.repeat(22)}.${mac}`],
    ['the pieces swapped', `${mac}.${id}`],
    ['a leading dot', `.${value}`],
  ])('rejects %s', (_name, presented) => {
    const cookie = new DeviceCookie(ringA, ISSUER);
    expect(cookie.read(fakeCtx(presented === undefined ? {} : { [DEVICE_COOKIE]: presented }).ctx)).toBeUndefined();
  });

  test('a cookie under another name is not read', () => {
    expect(new DeviceCookie(ringA, ISSUER).read(fakeCtx({ other: value }).ctx)).toBeUndefined();
  });
});
