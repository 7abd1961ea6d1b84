import { createHash, randomBytes } from 'node:crypto';
import type { Context } from 'koa';
import type Provider from 'oidc-provider';
import { ACR, type Config } from '../config/index.ts';
import { constantTimeEqual, type KeyRing } from '../crypto/index.ts';
import { renderPage, type Views } from '../http/views.ts';
import type { Account, AccountStore } from '../identity/index.ts';
import type { AdapterFactory } from '../store/index.ts';
import { msg } from '../i18n/index.ts';
import { firstPartyUrls, type FirstPartyApp } from './app.ts';
import { notSignedIn } from './not-signed-in.ts';
import { FirstPartyCookies, type FirstPartySession } from './session-cookie.ts';

export interface SignInDeps {
  config: Config;
  provider: () => Provider;
  keys: KeyRing;
  views: Views;
  adapters: AdapterFactory;
  accounts: AccountStore;
}

/** A person signed in to the app, as checked now. */
export interface SignedIn {
  session: FirstPartySession;
  account: Account;
}

export interface SignInRequest {
  /** Where to go after the sign-in: a path under the app's own. */
  next: string;
  /** A fresh sign-in even if the browser has a provider session. */
  prompt?: 'login';
  acrValues?: string;
}

const b64url = (bytes: Buffer) => bytes.toString('base64url');
const challengeOf = (verifier: string) => b64url(createHash('sha256').update(verifier).digest());

/**
 * The sign-in of a first-party app: authorization code + PKCE through Vigil's own /auth, the code
 * redeemed in-process with the same checks as at the token endpoint, the result kept in a sealed
 * cookie scoped to the app's path.
 */
export class FirstPartySignIn {
  readonly cookies: FirstPartyCookies;
  readonly #deps: SignInDeps;
  readonly #app: FirstPartyApp;
  readonly #urls: ReturnType<typeof firstPartyUrls>;

  constructor(deps: SignInDeps, app: FirstPartyApp, cookieName: string) {
    this.#deps = deps;
    this.#app = app;
    this.#urls = firstPartyUrls(deps.config, app);
    this.cookies = new FirstPartyCookies(deps.keys, deps.config.ISSUER.startsWith('https:'), { name: cookieName, path: app.path });
  }

  /** The signed-in session as the cookie has it (not yet checked against the provider). */
  session(ctx: Context): FirstPartySession | undefined {
    return this.cookies.session(ctx);
  }

  /**
   * The signed-in person, as long as the provider session the sign-in came from is alive (and
   * still theirs) and the account is enabled; otherwise the app's sign-in is forgotten.
   */
  async signedIn(ctx: Context): Promise<SignedIn | undefined> {
    const session = this.session(ctx);
    if (!session) return undefined;
    const [opSession, account] = await Promise.all([
      this.#deps.adapters.for('Session').findByUid(session.sessionUid),
      this.#deps.accounts.findById(session.accountId),
    ]);
    if (!opSession || opSession.accountId !== session.accountId || !account || account.disabled) {
      this.forget(ctx);
      return undefined;
    }
    return { session, account };
  }

  forget(ctx: Context): void {
    this.cookies.setSession(ctx, null);
  }

  /** Sends the browser to /auth. */
  start(ctx: Context, request: SignInRequest): void {
    const state = b64url(randomBytes(16));
    const verifier = b64url(randomBytes(32));
    this.cookies.setPending(ctx, { state, verifier, next: request.next, exp: Math.floor(Date.now() / 1000) + 600 });
    const params = new URLSearchParams({
      client_id: this.#app.clientId, response_type: 'code', scope: 'openid', redirect_uri: this.#urls.callback, state,
      code_challenge: challengeOf(verifier), code_challenge_method: 'S256',
    });
    if (request.prompt) params.set('prompt', request.prompt);
    if (request.acrValues) params.set('acr_values', request.acrValues);
    ctx.status = 303;
    ctx.redirect(`/auth?${params}`);
  }

  /**
   * The callback: checks state and code, stores the session for at most `maxSeconds`, and
   * redirects to where the sign-in was going. Any failure is a readable page.
   */
  async complete(ctx: Context, maxSeconds: number): Promise<FirstPartySession | undefined> {
    const { views } = this.#deps;
    const app = { app: msg(this.#app.label) };
    const pending = this.cookies.pending(ctx);
    this.cookies.setPending(ctx, null);
    const state = typeof ctx.query.state === 'string' ? ctx.query.state : '';
    if (!pending || !constantTimeEqual(state, pending.state)) {
      renderPage(ctx, views, 'error.njk', { title: msg('firstParty.expiredTitle'), error: 'invalid_request', description: msg('firstParty.expired', app) }, 400);
      return undefined;
    }
    if (typeof ctx.query.error === 'string') {
      // 403, not 400: the callback is genuine (its state checked), the browser asked nothing wrong; the app stays closed because nobody signed in.
      renderPage(ctx, views, 'not-signed-in.njk', { ...notSignedIn(this.#app, ctx.query.error) }, 403);
      return undefined;
    }
    // Vigil is its own authorization server: the code is redeemed in-process, with the same checks.
    const code = typeof ctx.query.code === 'string' ? await this.#deps.provider().AuthorizationCode.find(ctx.query.code) : undefined;
    if (!code || code.clientId !== this.#app.clientId || code.redirectUri !== this.#urls.callback || code.codeChallenge !== challengeOf(pending.verifier)
      || (code as { consumed?: unknown }).consumed || !code.sessionUid || !code.accountId) {
      renderPage(ctx, views, 'error.njk', { title: msg('firstParty.failedTitle'), error: 'invalid_grant', description: msg('firstParty.failed', app) }, 400);
      return undefined;
    }
    try {
      await code.consume();
    } catch {
      renderPage(ctx, views, 'error.njk', { title: msg('firstParty.failedTitle'), error: 'invalid_grant', description: msg('firstParty.used') }, 400);
      return undefined;
    }
    const now = Math.floor(Date.now() / 1000);
    const session: FirstPartySession = {
      accountId: code.accountId, sessionUid: code.sessionUid, authTime: code.authTime ?? now,
      acr: code.acr ?? ACR.oneFactor, amr: code.amr ?? [], exp: now + Math.min(maxSeconds, this.#deps.config.VIGIL_SESSION_TTL),
    };
    this.cookies.setSession(ctx, session);
    ctx.status = 303;
    ctx.redirect(pending.next.startsWith(this.#app.path) ? pending.next : this.#app.path);
    return session;
  }

  /** Ends the app's sign-in and sends the browser through RP-initiated logout (the provider session ends too). */
  signOut(ctx: Context): void {
    this.cookies.setSession(ctx, null);
    const params = new URLSearchParams({ client_id: this.#app.clientId, post_logout_redirect_uri: this.#urls.signedOut });
    ctx.status = 303;
    ctx.redirect(`/session/end?${params}`);
  }
}
