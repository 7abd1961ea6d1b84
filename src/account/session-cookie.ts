import type { Context } from 'koa';
import type { KeyRing } from '../crypto/index.ts';

export interface AccountSession {
  accountId: string;
  /** The provider session this sign-in belongs to; the account page ends when it does. */
  sessionUid: string;
  authTime: number;
  acr: string;
  amr: string[];
  exp: number;
}

export interface PendingSignIn {
  state: string;
  verifier: string;
  next: string;
  exp: number;
}

const SESSION_COOKIE = 'vigil.account';
const PENDING_COOKIE = 'vigil.account.pending';

/** The account page's own state lives in sealed (encrypted, authenticated) cookies: nothing to share between instances. */
export class AccountCookies {
  readonly #keys: KeyRing;
  readonly #secure: boolean;

  constructor(keys: KeyRing, secure: boolean) {
    this.#keys = keys;
    this.#secure = secure;
  }

  #write(ctx: Context, name: string, value: object | null, maxAgeSeconds: number) {
    ctx.cookies.set(name, value ? this.#keys.seal(JSON.stringify(value), name) : null, {
      httpOnly: true, sameSite: 'lax', secure: this.#secure, path: '/account', maxAge: value ? maxAgeSeconds * 1000 : 0, signed: false, overwrite: true,
    });
  }

  #read<T extends { exp: number }>(ctx: Context, name: string): T | undefined {
    const raw = ctx.cookies.get(name, { signed: false });
    if (!raw) return undefined;
    try {
      const value = JSON.parse(this.#keys.open(raw, name)) as T;
      return value.exp > Date.now() / 1000 ? value : undefined;
    } catch {
      return undefined;
    }
  }

  session(ctx: Context): AccountSession | undefined {
    return this.#read<AccountSession>(ctx, SESSION_COOKIE);
  }

  setSession(ctx: Context, session: AccountSession | null): void {
    this.#write(ctx, SESSION_COOKIE, session, session ? session.exp - Math.floor(Date.now() / 1000) : 0);
  }

  pending(ctx: Context): PendingSignIn | undefined {
    return this.#read<PendingSignIn>(ctx, PENDING_COOKIE);
  }

  setPending(ctx: Context, pending: PendingSignIn | null): void {
    this.#write(ctx, PENDING_COOKIE, pending, 600);
  }
}
