import Router from '@koa/router';
import { randomBytes } from 'node:crypto';
import type { Context } from 'koa';
import { constantTimeEqual, linkTokenHash, type KeyRing } from '../crypto/index.ts';
import type { EmailLinkKind, EmailLinkProblem } from '../identity/index.ts';
import { readForm } from '../http/form.ts';
import { renderPage, type Views } from '../http/views.ts';
import { msg, waitMessage, type Message } from '../i18n/index.ts';
import { PASSWORD_MAX_LENGTH, PASSWORD_MIN_LENGTH } from '../identity/index.ts';
import { RESET_PATH, VERIFY_PATH, type AccountRecovery } from './service.ts';
import type { RecoveryThrottle } from './throttle.ts';

export interface RecoveryRouteDeps {
  issuer: string;
  keys: KeyRing;
  views: Views;
  recovery: AccountRecovery;
  throttle: RecoveryThrottle;
}

const NONCE_COOKIE = 'vigil.link';
const NONCE = /^[A-Za-z0-9_-]{22}$/;

const PROBLEMS: Record<EmailLinkProblem, { status: number; title: Message; message: Message }> = {
  unknown: { status: 404, title: msg('link.unknownTitle'), message: msg('link.unknown') },
  used: { status: 410, title: msg('link.usedTitle'), message: msg('link.used') },
  expired: { status: 410, title: msg('link.expiredTitle'), message: msg('link.expired') },
};

const NEXT_STEP: Record<EmailLinkKind, Message> = {
  password_reset: msg('link.nextReset'),
  email_verification: msg('link.nextVerify'),
};

/**
 * The pages an emailed link opens. Opening one (GET) changes nothing: mail scanners fetch links
 * before the person does. The form posts the token back with a CSRF value bound to a cookie of
 * this browser; the POST uses the link. The token is in the URL: no page here sends a Referer.
 */
export function recoveryRoutes(deps: RecoveryRouteDeps): Router {
  const router = new Router();
  const secure = new URL(deps.issuer).protocol === 'https:';

  /** This browser's nonce for the link forms (set on the first link page it opens). */
  function nonce(ctx: Context): string {
    const existing = ctx.cookies.get(NONCE_COOKIE, { signed: false });
    if (existing && NONCE.test(existing)) return existing;
    const fresh = randomBytes(16).toString('base64url');
    ctx.cookies.set(NONCE_COOKIE, fresh, { httpOnly: true, sameSite: 'strict', secure, path: '/', signed: false, overwrite: true });
    return fresh;
  }

  const csrfFor = (value: string, token: string) => deps.keys.mac('link-form', `${value}:${linkTokenHash(token) ?? ''}`);

  function checkCsrf(ctx: Context, token: string, csrf: string | undefined): void {
    const value = ctx.cookies.get(NONCE_COOKIE, { signed: false });
    if (!value || !NONCE.test(value) || typeof csrf !== 'string' || !constantTimeEqual(csrf, csrfFor(value, token))) {
      throw Object.assign(new Error('This form has expired or did not come from this page. Open the link from your mail again.'), {
        status: 403, expose: true, error: 'invalid_request', pageMessage: msg('link.formExpired'),
      });
    }
  }

  /** The refusals every link page shares: too many forged links from here, or a link that opens nothing. */
  async function refuseFromAddress(ctx: Context): Promise<boolean> {
    // The token is in these pages' URL: whatever they link to learns nothing of it.
    ctx.set('Referrer-Policy', 'no-referrer');
    const allowed = await deps.throttle.linksAllowed(ctx.state.clientIp as string);
    if (allowed.allowed) return false;
    ctx.set('Retry-After', String(allowed.retryAfterSeconds));
    renderPage(ctx, deps.views, 'link-problem.njk', {
      title: msg('link.tooManyTitle'), message: msg('link.tooMany', { wait: waitMessage(allowed.retryAfterSeconds) }),
    }, 429);
    return true;
  }

  async function showProblem(ctx: Context, kind: EmailLinkKind, problem: EmailLinkProblem): Promise<void> {
    if (problem === 'unknown') await deps.throttle.forgedLink(ctx.state.clientIp as string);
    const { status, title, message } = PROBLEMS[problem];
    renderPage(ctx, deps.views, 'link-problem.njk', { title, message, nextStep: NEXT_STEP[kind] }, status);
  }

  function showResetForm(ctx: Context, token: string, email: string, error?: Message, status = 200) {
    renderPage(ctx, deps.views, 'password-reset.njk', {
      title: msg('reset.title'), token, email, csrf: csrfFor(nonce(ctx), token), error, minLength: PASSWORD_MIN_LENGTH, maxLength: PASSWORD_MAX_LENGTH,
    }, status);
  }

  router.get(RESET_PATH, async (ctx) => {
    if (await refuseFromAddress(ctx)) return;
    const token = String(ctx.query.token ?? '');
    const state = await deps.recovery.check(token, 'password_reset');
    if (!state.ok) return showProblem(ctx, 'password_reset', state.problem);
    showResetForm(ctx, token, state.link.email);
  });

  router.post(RESET_PATH, async (ctx) => {
    const form = await readForm(ctx);
    if (await refuseFromAddress(ctx)) return;
    const token = form.token ?? '';
    checkCsrf(ctx, token, form.csrf);
    const password = form.password ?? '';
    const state = await deps.recovery.check(token, 'password_reset');
    if (!state.ok) return showProblem(ctx, 'password_reset', state.problem);
    if (password !== (form.confirm ?? '')) return showResetForm(ctx, token, state.link.email, msg('password.differ'), 400);
    const result = await deps.recovery.completeReset(token, password, ctx.state.clientIp as string);
    if (result.ok) return renderPage(ctx, deps.views, 'link-done.njk', { title: msg('reset.doneTitle'), message: msg('reset.done') });
    if (result.problem === 'password') return showResetForm(ctx, token, state.link.email, result.message, 400);
    return showProblem(ctx, 'password_reset', result.state.problem);
  });

  router.get(VERIFY_PATH, async (ctx) => {
    if (await refuseFromAddress(ctx)) return;
    const token = String(ctx.query.token ?? '');
    const state = await deps.recovery.check(token, 'email_verification');
    if (!state.ok) return showProblem(ctx, 'email_verification', state.problem);
    renderPage(ctx, deps.views, 'email-verify.njk', { title: msg('verify.title'), token, email: state.link.email, csrf: csrfFor(nonce(ctx), token) });
  });

  router.post(VERIFY_PATH, async (ctx) => {
    const form = await readForm(ctx);
    if (await refuseFromAddress(ctx)) return;
    const token = form.token ?? '';
    checkCsrf(ctx, token, form.csrf);
    const result = await deps.recovery.completeVerification(token, ctx.state.clientIp as string);
    if (!result.ok) return showProblem(ctx, 'email_verification', result.problem);
    renderPage(ctx, deps.views, 'link-done.njk', { title: msg('verify.doneTitle'), message: msg('verify.done') });
  });

  return router;
}
