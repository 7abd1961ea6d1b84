/**
 * /invitation/:token: the invited person's pages, also opened by the enrolment link of an account
 * that exists without a sign-in method (provisioned through SCIM: `AccountEnrolments`), whose
 * completion enrols the factors on that account instead of creating one. Opening the link (GET) reads only: mail
 * scanners open links before people do. Enrolling (POST, CSRF-protected) uses the link and
 * creates the account with its factors in one transaction (`Invitations.complete`): a passkey
 * (with recovery codes), or a password with an authenticator app, or, when
 * VIGIL_ENROLMENT_REQUIRE_SECOND_FACTOR is off, a password alone.
 */
import { randomBytes } from 'node:crypto';
import Router from '@koa/router';
import type { Context } from 'koa';
import type { RegistrationResponseJSON } from '@simplewebauthn/server';
import type { Config } from '../config/index.ts';
import type { KeyRing } from '../crypto/index.ts';
import type { AuditLog } from '../audit/index.ts';
import { AccountError, type Account, hashPassword, passwordProblemMessage, PASSWORD_MAX_LENGTH, PASSWORD_MIN_LENGTH } from '../identity/index.ts';
import { PASSKEY_FAILURE_MESSAGES, PasskeyError, type ChallengeStore, type Passkeys, type RecoveryCodes, type TotpFactors } from '../mfa/index.ts';
import type { AttemptLimiter } from '../limits/index.ts';
import { readForm, readJson } from '../http/form.ts';
import { renderPage, viewLanguage, type Views } from '../http/views.ts';
import { msg, waitMessage, type Message } from '../i18n/index.ts';
import { FormTokens } from '../first-party/index.ts';
import { RecoveryCodeReveal } from '../account/index.ts';
import type { Queryable } from '../store/index.ts';
import { invitationEnrolment, type Enrolment, type EnrolmentState, type Invitations } from './invitations.ts';
import type { AccountEnrolments } from './account-enrolments.ts';

export interface InvitationRouteDeps {
  config: Pick<Config, 'ISSUER' | 'VIGIL_ENROLMENT_REQUIRE_SECOND_FACTOR'>;
  invitations: Invitations;
  accountEnrolments: AccountEnrolments;
  keys: KeyRing;
  views: Views;
  audit: AuditLog;
  challenges: ChallengeStore;
  /** The relying party passkeys are registered for, and the options made for it. */
  passkeys: Passkeys;
  totp: TotpFactors;
  recovery: RecoveryCodes;
  /** Links that lead nowhere (forged, unknown), per client address. */
  linkLimiter: AttemptLimiter;
  /** Wrong authenticator-app codes, per invitation. */
  codeLimiter: AttemptLimiter;
}

/** The page a link that cannot be used shows, and its status. */
const CLOSED: Record<Exclude<EnrolmentState, { ok: true }>['reason'], { status: number; title: Message; description: Message }> = {
  forged: { status: 404, title: msg('invitation.closed.invalidTitle'), description: msg('invitation.closed.invalid') },
  unknown: { status: 404, title: msg('invitation.closed.invalidTitle'), description: msg('invitation.closed.invalid') },
  used: { status: 410, title: msg('invitation.closed.usedTitle'), description: msg('invitation.closed.used') },
  expired: { status: 410, title: msg('invitation.closed.expiredTitle'), description: msg('invitation.closed.expired') },
  revoked: { status: 410, title: msg('invitation.closed.revokedTitle'), description: msg('invitation.closed.revoked') },
};

/** How long the password chosen and the authenticator app's secret wait for the app's first code. */
const TOTP_HOLD_SECONDS = 15 * 60;
const TOTP_HOLD = 'invitation.totp';
const REVEAL_COOKIE = 'vigil.invitation';

export function invitationRoutes(deps: InvitationRouteDeps): Router {
  const router = new Router({ prefix: '/invitation' });
  const forms = new FormTokens(deps.keys, 'invitation-csrf');
  const reveal = new RecoveryCodeReveal(deps.challenges, deps.keys);
  const secure = new URL(deps.config.ISSUER).protocol === 'https:';
  // The form token is bound to the invitation: good for its pages only.
  const formSession = (invitation: Enrolment) => ({ accountId: invitation.accountId, sessionUid: invitation.id });

  /** An invitation's link, or else an existing account's enrolment link (tokens are random: never both). */
  async function open(token: unknown): Promise<EnrolmentState> {
    const state = await deps.invitations.open(token);
    if (state.ok) return { ok: true, enrolment: invitationEnrolment(state.invitation) };
    return state.reason === 'unknown' ? deps.accountEnrolments.open(token) : state;
  }

  function closedPage(ctx: Context, reason: keyof typeof CLOSED) {
    const page = CLOSED[reason];
    renderPage(ctx, deps.views, 'invitation-closed.njk', { title: page.title, description: page.description }, page.status);
  }

  /** What the passkey script shows: in the page's language. */
  function jsonRefusal(ctx: Context, status: number, error: string, description: Message) {
    ctx.status = status;
    ctx.body = { error, error_description: viewLanguage(ctx, deps.views).t(description) };
  }

  function tooMany(ctx: Context, retryAfterSeconds: number, json: boolean) {
    ctx.set('Retry-After', String(retryAfterSeconds));
    const description = msg('invitation.closed.tooMany', { wait: waitMessage(retryAfterSeconds) });
    if (json) jsonRefusal(ctx, 429, 'too_many_requests', description);
    else renderPage(ctx, deps.views, 'invitation-closed.njk', { title: msg('invitation.closed.tooManyTitle'), description }, 429);
  }

  /**
   * The open invitation of the link in the path; otherwise the page (or JSON) saying why not, and
   * undefined. Links that lead nowhere count against the address: tokens cannot be guessed, but
   * nobody gets to try.
   */
  async function openLink(ctx: Context, json = false): Promise<Enrolment | undefined> {
    // Whatever answers, the token in this URL must not leave in a Referer.
    ctx.set('Referrer-Policy', 'no-referrer');
    const ip = ctx.state.clientIp as string;
    const limit = await deps.linkLimiter.check(ip);
    if (limit.locked) {
      tooMany(ctx, limit.retryAfterSeconds, json);
      return undefined;
    }
    const state = await open(ctx.params.token);
    if (state.ok) return state.enrolment;
    if (state.reason === 'forged' || state.reason === 'unknown') await deps.linkLimiter.fail(ip);
    if (json) jsonRefusal(ctx, CLOSED[state.reason].status, 'invalid_request', CLOSED[state.reason].description);
    else closedPage(ctx, state.reason);
    return undefined;
  }

  function choicePage(ctx: Context, invitation: Enrolment, error?: Message, status = 200) {
    renderPage(ctx, deps.views, 'invitation.njk', {
      title: msg('invitation.title'), email: invitation.email, existing: invitation.kind === 'account', token: ctx.params.token, csrf: forms.issue(formSession(invitation)), error,
      requireSecondFactor: deps.config.VIGIL_ENROLMENT_REQUIRE_SECOND_FACTOR, minLength: PASSWORD_MIN_LENGTH, maxLength: PASSWORD_MAX_LENGTH,
    }, status);
  }

  function donePage(ctx: Context, email: string, how: Message, codes?: string[], device = 'passkey') {
    renderPage(ctx, deps.views, 'invitation-done.njk', { title: msg('invitation.doneTitle'), email, how, codes, device });
  }

  async function enrolled(ctx: Context, invitation: Enrolment, method: string) {
    await deps.audit.append({
      actor: invitation.accountId, action: 'account.enrolled', subject: invitation.accountId, ip: ctx.state.clientIp, outcome: 'success',
      details: { ...(invitation.kind === 'invitation' ? { invitation: invitation.id } : { link: 'enrolment' }), email: invitation.email, roles: invitation.roles, method },
    });
  }

  /** The link was used by another enrolment between the page and this request, or the email got an account meanwhile. */
  async function notCompleted(ctx: Context, invitation: Enrolment, json: boolean, err?: AccountError) {
    const description = err ? msg('invitation.closed.taken', { email: invitation.email }) : msg('invitation.closed.notOpen');
    const state = err ? undefined : await open(ctx.params.token);
    const reason = state && !state.ok ? state.reason : undefined;
    if (json) jsonRefusal(ctx, 409, 'invalid_request', reason ? CLOSED[reason].description : description);
    else if (reason) closedPage(ctx, reason);
    else renderPage(ctx, deps.views, 'invitation-closed.njk', { title: msg('invitation.closed.cannotUseTitle'), description }, 409);
  }

  /** `complete` with an account already created meanwhile answered as a refusal, not a 500. */
  async function complete<T>(ctx: Context, invitation: Enrolment, passwordHash: string | undefined, enrol: (tx: Queryable, account: Account) => Promise<T>, json = false) {
    try {
      const done = invitation.kind === 'invitation'
        ? await deps.invitations.complete(invitation.id, { passwordHash }, enrol)
        : await deps.accountEnrolments.complete(ctx.params.token, passwordHash, enrol);
      if (!done) await notCompleted(ctx, invitation, json);
      return done;
    } catch (err) {
      if (err instanceof AccountError && err.kind === 'taken') {
        await notCompleted(ctx, invitation, json, err);
        return undefined;
      }
      throw err;
    }
  }

  router.get('/welcome', async (ctx) => {
    // The page a passkey enrolment's script goes to: its recovery codes, shown once to that browser.
    const nonce = ctx.cookies.get(REVEAL_COOKIE, { signed: false });
    const held = typeof nonce === 'string' && /^[A-Za-z0-9_-]{32}$/.test(nonce) ? await reveal.take({ accountId: `invitation:${nonce}`, sessionUid: nonce }) : undefined;
    ctx.cookies.set(REVEAL_COOKIE, null, { path: '/invitation', httpOnly: true, sameSite: 'lax', secure });
    if (!held) return closedPage(ctx, 'used');
    const [email, ...codes] = held;
    donePage(ctx, email, msg('invitation.withPasskey'), codes);
  });

  router.get('/:token', async (ctx) => {
    const invitation = await openLink(ctx);
    if (invitation) choicePage(ctx, invitation);
  });

  router.post('/:token/passkey/options', async (ctx) => {
    const invitation = await openLink(ctx, true);
    if (!invitation) return;
    forms.check(formSession(invitation), (await readJson(ctx)).csrf);
    ctx.set('Cache-Control', 'no-store');
    ctx.body = await deps.passkeys.registrationOptions(
      { id: invitation.accountId, email: invitation.email, displayName: invitation.displayName }, `invitation:${invitation.id}`,
    );
  });

  router.post('/:token/passkey/verify', async (ctx) => {
    const invitation = await openLink(ctx, true);
    if (!invitation) return;
    const body = await readJson(ctx);
    forms.check(formSession(invitation), body.csrf);
    const name = typeof body.name === 'string' && body.name.trim() ? body.name.trim().slice(0, 64) : 'Passkey';
    let done;
    try {
      // Everything in the transaction: the challenge, the passkey and the codes are stored with the account or not at all.
      done = await complete(ctx, invitation, undefined, async (tx, account) => {
        const passkey = await deps.passkeys.on(tx).register(account.id, `invitation:${invitation.id}`, body.response as RegistrationResponseJSON, name);
        return { codes: await deps.recovery.on(tx).issue(account.id), credential: passkey.id };
      }, true);
    } catch (err) {
      if (!(err instanceof PasskeyError)) throw err;
      await deps.audit.append({ actor: invitation.accountId, action: 'account.enrolment', subject: invitation.kind === 'invitation' ? invitation.id : invitation.accountId, ip: ctx.state.clientIp, outcome: 'failure', details: { reason: err.code } });
      jsonRefusal(ctx, 400, 'invalid_request', PASSKEY_FAILURE_MESSAGES[err.code]);
      return;
    }
    if (!done) return;
    await enrolled(ctx, invitation, 'passkey');
    // The codes wait for the page the script goes to, bound to this browser by a cookie: never in a URL.
    const nonce = randomBytes(24).toString('base64url');
    await reveal.hold({ accountId: `invitation:${nonce}`, sessionUid: nonce }, [invitation.email, ...done.enrolled.codes]);
    ctx.cookies.set(REVEAL_COOKIE, nonce, { path: '/invitation', httpOnly: true, sameSite: 'lax', secure, maxAge: 600_000, signed: false });
    ctx.body = { redirect: '/invitation/welcome' };
  });

  router.post('/:token/password', async (ctx) => {
    const invitation = await openLink(ctx);
    if (!invitation) return;
    const form = await readForm(ctx);
    forms.check(formSession(invitation), form.csrf);
    const password = form.password ?? '';
    const problem = passwordProblemMessage(password);
    if (problem) return choicePage(ctx, invitation, problem, 400);
    if (password !== form.confirm) return choicePage(ctx, invitation, msg('password.differ'), 400);
    const passwordHash = await hashPassword(password);
    if (!deps.config.VIGIL_ENROLMENT_REQUIRE_SECOND_FACTOR) {
      const done = await complete(ctx, invitation, passwordHash, async () => undefined);
      if (!done) return;
      await enrolled(ctx, invitation, 'password');
      return donePage(ctx, invitation.email, msg('invitation.withPassword'));
    }
    // The account is created with its app: the password and the app's secret wait for the first code.
    const enrolment = await deps.totp.prepare(invitation.email);
    const sealed = deps.keys.seal(JSON.stringify({ passwordHash, secret: enrolment.secret }), `${TOTP_HOLD}:${invitation.id}`);
    await deps.challenges.put(`${TOTP_HOLD}:${invitation.id}`, TOTP_HOLD, { sealed }, TOTP_HOLD_SECONDS);
    totpPage(ctx, invitation, { secret: enrolment.secret, qrDataUri: enrolment.qrDataUri });
  });

  function totpPage(ctx: Context, invitation: Enrolment, vars: { secret: string; qrDataUri?: string; error?: Message }, status = 200) {
    renderPage(ctx, deps.views, 'totp-enrol.njk', {
      title: msg('totp.title'), csrf: forms.issue(formSession(invitation)), ...vars,
      intro: msg('invitation.totpIntro'),
      confirmAction: `/invitation/${ctx.params.token}/totp`, cancelUrl: `/invitation/${ctx.params.token}`,
    }, status);
  }

  router.post('/:token/totp', async (ctx) => {
    const invitation = await openLink(ctx);
    if (!invitation) return;
    const form = await readForm(ctx);
    forms.check(formSession(invitation), form.csrf);
    const held = await deps.challenges.peek<{ sealed: string }>(`${TOTP_HOLD}:${invitation.id}`, TOTP_HOLD);
    if (!held) return choicePage(ctx, invitation, msg('invitation.totpTooLate'), 400);
    const { passwordHash, secret } = JSON.parse(deps.keys.open(held.data.sealed, `${TOTP_HOLD}:${invitation.id}`)) as { passwordHash: string; secret: string };
    const attempt = await deps.codeLimiter.reserve(invitation.id);
    if (!attempt.allowed) return tooMany(ctx, attempt.retryAfterSeconds, false);
    const code = (form.code ?? '').replace(/\s/g, '');
    const done = await complete(ctx, invitation, passwordHash, async (tx, account) => {
      if (await deps.totp.on(tx).enrolConfirmed(account.id, secret, code) !== 'ok') {
        // Nothing of this attempt may stay: the transaction is rolled back.
        throw new WrongCode();
      }
      return deps.recovery.on(tx).issue(account.id);
    }).catch((err) => {
      if (err instanceof WrongCode) return 'wrong' as const;
      throw err;
    });
    if (done === 'wrong') {
      await deps.audit.append({ actor: invitation.accountId, action: 'account.enrolment', subject: invitation.kind === 'invitation' ? invitation.id : invitation.accountId, ip: ctx.state.clientIp, outcome: 'failure', details: { reason: 'wrong_code' } });
      return totpPage(ctx, invitation, { secret, error: msg('account.errors.totpWrong') }, 400);
    }
    if (!done) return;
    await deps.codeLimiter.refund(invitation.id);
    await deps.challenges.take(`${TOTP_HOLD}:${invitation.id}`, TOTP_HOLD);
    await enrolled(ctx, invitation, 'password+totp');
    donePage(ctx, invitation.email, msg('invitation.withPasswordAndApp'), done.enrolled, 'device');
  });

  return router;
}

class WrongCode extends Error {}
