/**
 * Vigil's device cookie: a random browser id, MAC-signed, set at sign-in and read at the next
 * one, so the risk engine can tell a browser it has seen from a new one. It identifies a browser
 * profile, not a person: it carries no account and grants nothing by itself.
 */
import { randomBytes } from 'node:crypto';
import type { Context } from 'koa';
import { constantTimeEqual, type KeyRing } from '../crypto/index.ts';

export const DEVICE_COOKIE = 'vigil_device';
const ID = /^brw_[A-Za-z0-9_-]{22}$/;
const MAX_AGE_MS = 400 * 86_400_000;

export class DeviceCookie {
  readonly #keys: KeyRing;
  readonly #secure: boolean;

  constructor(keys: KeyRing, issuer: string) {
    this.#keys = keys;
    this.#secure = issuer.startsWith('https:');
  }

  /** The browser's id if it presents a cookie Vigil signed; undefined otherwise. */
  read(ctx: Context): string | undefined {
    const value = ctx.cookies.get(DEVICE_COOKIE, { signed: false });
    if (!value) return undefined;
    const dot = value.indexOf('.');
    const id = value.slice(0, dot);
    if (dot < 0 || !ID.test(id)) return undefined;
    return constantTimeEqual(value.slice(dot + 1), this.#mac(id)) ? id : undefined;
  }

  /** The browser's id, issuing a new cookie when it has none (or a forged one). */
  ensure(ctx: Context): string {
    const existing = this.read(ctx);
    if (existing) return existing;
    const id = `brw_${randomBytes(16).toString('base64url')}`;
    ctx.cookies.set(DEVICE_COOKIE, `${id}.${this.#mac(id)}`, {
      signed: false, httpOnly: true, sameSite: 'lax', secure: this.#secure, maxAge: MAX_AGE_MS, path: '/', overwrite: true,
    });
    return id;
  }

  #mac(id: string): string {
    return this.#keys.mac('device-cookie', id);
  }
}
