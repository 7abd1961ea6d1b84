import type { Context } from 'koa';
import type { KeyRing } from '../crypto/index.ts';

/** A person signed in to one of Vigil's own apps (the account page, the admin console). */
export interface FirstPartySession {
  accountId: string;
  /** The provider session this sign-in belongs to; the app's sign-in ends when it does. */
  sessionUid: string;
  authTime: number;
  acr: string;
  amr: string[];
  exp: number;
}

/** A sign-in on its way through /auth: what the callback checks and where it goes next. */
export interface PendingSignIn {
  state: string;
  verifier: string;
  next: string;
  exp: number;
}

export interface CookieScope {
  /** The session cookie's name; the pending sign-in's is `<name>.pending`. */
  name: string;
  /** The app's path: the cookies are sent nowhere else. */
  path: string;
}

/** An app's own state lives in sealed (encrypted, authenticated) cookies: nothing to share between instances. */
export class FirstPartyCookies {
  readonly #keys: KeyRing;
  readonly #secure: boolean;
  readonly #scope: CookieScope;

  constructor(keys: KeyRing, secure: boolean, scope: CookieScope) {
    this.#keys = keys;
    this.#secure = secure;
    this.#scope = scope;
  }

  get #pendingName() {
    return `${this.#scope.name}.pending`;
  }

  #write(ctx: Context, name: string, value: object | null, maxAgeSeconds: number) {
    ctx.cookies.set(name, value ? this.#keys.seal(JSON.stringify(value), name) : null, {
      httpOnly: true, sameSite: 'lax', secure: this.#secure, path: this.#scope.path, maxAge: value ? maxAgeSeconds * 1000 : 0, signed: false, overwrite: true,
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

  session(ctx: Context): FirstPartySession | undefined {
    return this.#read<FirstPartySession>(ctx, this.#scope.name);
  }

  setSession(ctx: Context, session: FirstPartySession | null): void {
    this.#write(ctx, this.#scope.name, session, session ? session.exp - Math.floor(Date.now() / 1000) : 0);
  }

  pending(ctx: Context): PendingSignIn | undefined {
    return this.#read<PendingSignIn>(ctx, this.#pendingName);
  }

  setPending(ctx: Context, pending: PendingSignIn | null): void {
    this.#write(ctx, this.#pendingName, pending, 600);
  }
}
