/**
 * Who is using the console, checked on every request: the sealed sign-in cookie, the provider
 * session it came from still alive, the account enabled (the first-party sign-in's own check), a
 * phishing-resistant sign-in, and the `admin` or `auditor` role as the account has it now (not as
 * it had it at sign-in).
 */
import { ADMIN_ACTOR } from './call-audit.ts';
import type { Context } from 'koa';
import { ACR, acrLevel } from '../config/index.ts';
import type { Account } from '../identity/index.ts';
import { renderPage, type Views } from '../http/index.ts';
import type { FirstPartySession, FirstPartySignIn, FormTokens } from '../first-party/index.ts';
import { ConsoleRefusal } from './console-http.ts';
import type { AdminPrincipal, AdminRole } from './types.ts';

export interface ConsoleUser {
  session: FirstPartySession;
  account: Account;
  role: AdminRole;
  principal: AdminPrincipal & { kind: 'person' };
  /** The CSRF token of this sign-in's forms. */
  csrf: string;
  /** Let in only as an approver of elevations (no admin or auditor role): the elevations pages alone. */
  approverOnly?: boolean;
}

/** Who else a page lets in besides administrators and auditors. */
export interface AccessOptions {
  /** People holding one of these roles (the elevation approvers), as approvers only. */
  approverRoles?: ReadonlySet<string>;
}

export type ConsoleAccess =
  | { ok: true; user: ConsoleUser }
  | { ok: false; why: 'signed-out' | 'weak-sign-in' }
  | { ok: false; why: 'no-role'; account: Account };

export function roleOf(roles: readonly string[]): AdminRole | undefined {
  if (roles.includes('admin')) return 'admin';
  if (roles.includes('auditor')) return 'auditor';
  return undefined;
}

export interface ConsoleGateDeps {
  signIn: FirstPartySignIn;
  forms: FormTokens;
  views: Views;
  /** The roles the person holds now for this sign-in (standing and elevated). */
  rolesOf: (account: Account, acr: string | undefined) => Promise<string[]>;
}

export class ConsoleGate {
  readonly #deps: ConsoleGateDeps;

  constructor(deps: ConsoleGateDeps) {
    this.#deps = deps;
  }

  /** What the request's cookie is worth now. */
  async access(ctx: Context, options: AccessOptions = {}): Promise<ConsoleAccess> {
    const { signIn, forms } = this.#deps;
    const signed = await signIn.signedIn(ctx);
    if (!signed) return { ok: false, why: 'signed-out' };
    const { session, account } = signed;
    if (acrLevel(session.acr) < acrLevel(ACR.phishingResistant)) return { ok: false, why: 'weak-sign-in' };
    const roles = await this.#deps.rolesOf(account, session.acr);
    const approverOnly = !roleOf(roles) && roles.some((r) => options.approverRoles?.has(r));
    // An approver alone acts through the elevation service, which checks every action itself.
    const role = roleOf(roles) ?? (approverOnly ? 'auditor' : undefined);
    if (!role) return { ok: false, why: 'no-role', account };
    return {
      ok: true,
      user: {
        session, account, role, csrf: forms.issue(session), ...(approverOnly ? { approverOnly } : {}),
        principal: { kind: 'person', accountId: account.id, email: account.email, role, acr: session.acr, ip: String(ctx.state.clientIp ?? '') },
      },
    };
  }

  /**
   * The signed-in console user, or undefined once the response is written: a page request
   * without a sign-in goes to sign in (with a passkey), anything else gets a readable refusal.
   */
  async require(ctx: Context, options: AccessOptions = {}): Promise<ConsoleUser | undefined> {
    const access = await this.access(ctx, options);
    if (access.ok) {
      ctx.state[ADMIN_ACTOR] = access.user.account.id;
      return access.user;
    }
    if (access.why === 'no-role') {
      renderPage(ctx, this.#deps.views, 'admin/no-role.njk', { title: 'No access to the admin console', email: access.account.email }, 403);
      return undefined;
    }
    if (access.why === 'weak-sign-in') {
      renderPage(ctx, this.#deps.views, 'admin/refused.njk', {
        title: 'A passkey is needed', status: 403, signInAgain: true,
        message: 'The admin console needs a sign-in with a passkey or security key. Sign in again and use yours.',
      }, 403);
      return undefined;
    }
    if (ctx.method === 'GET' && ctx.accepts('html') === 'html' && !ctx.path.startsWith('/admin/events')) {
      this.#deps.signIn.start(ctx, { next: ctx.url, acrValues: ACR.phishingResistant });
      return undefined;
    }
    throw new ConsoleRefusal(403, 'Signed out', 'Your admin console sign-in has ended. Open the admin console and sign in again.');
  }

  /** Changes are for administrators; auditors read only. */
  requireAdmin(user: ConsoleUser): void {
    if (user.role !== 'admin') throw new ConsoleRefusal(403, 'Not allowed', 'Auditors can look but not change anything. Ask an administrator.');
  }
}
