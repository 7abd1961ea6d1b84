import Router from '@koa/router';
import type { Context } from 'koa';
import type Provider from 'oidc-provider';
import type { RegistrationResponseJSON } from '@simplewebauthn/server';
import type { Config } from '../config/index.ts';
import type { KeyRing } from '../crypto/index.ts';
import type { AccountStore } from '../identity/index.ts';
import type { AuditLog } from '../audit/index.ts';
import { PASSKEY_FAILURE_MESSAGES, PasskeyError, type ChallengeStore, type Passkeys, type RecoveryCodes, type TotpFactors, type TotpCheck } from '../mfa/index.ts';
import type { Revocations, SessionActivityLog } from '../sessions/index.ts';
import type { AdapterFactory } from '../store/index.ts';
import { readForm, readJson } from '../http/form.ts';
import { parseUserAgent } from '../risk/index.ts';
import { renderPage, viewLanguage, type Views } from '../http/views.ts';
import { msg, waitMessage, type Message } from '../i18n/index.ts';
import { FirstPartySignIn, FormTokens, type FirstPartySession, type SignedIn } from '../first-party/index.ts';
import { ACCOUNT_APP } from './client.ts';
import { FACTOR_CHANGE_ACR, factorChangeProof, hasSecondFactor, type AccountFactors, type FactorChangeProof } from './factor-proof.ts';
import { RecoveryCodeReveal } from './recovery-reveal.ts';
import { credentialChange, passkeyCredentialType, type CaepCredentialType, type SecurityEventSink } from '../ssf/index.ts';
import type { AccountRecovery } from '../recovery/index.ts';
import { ElevationError } from '../elevation/index.ts';
import { actorOf, elevationForm, elevationSection, refusalMessage, stepUpFor, type AccountElevations } from './elevation.ts';

export interface AccountDeps {
  config: Config;
  provider: () => Provider;
  adapters: AdapterFactory;
  accounts: AccountStore;
  audit: AuditLog;
  keys: KeyRing;
  views: Views;
  totp: TotpFactors;
  recovery: RecoveryCodes;
  passkeys: Passkeys;
  /** Holds the recovery codes a passkey registration issues until the account page shows them. */
  challenges: ChallengeStore;
  activity: SessionActivityLog;
  revocations: Revocations;
  /** Shared Signals: CAEP credential-change to the streams that follow the person. */
  securityEvents?: SecurityEventSink;
  /** The link that proves the person's address, mailed on request. */
  accountRecovery: Pick<AccountRecovery, 'requestVerification'>;
  /** Just-in-time elevation: the person asks for the roles they are eligible for. */
  elevations?: AccountElevations;
}

const MAX_ACCOUNT_SESSION = 12 * 3600;

/** The account page's `done` query values and what the page then says. */
const NOTICES = new Map([
  ['passkey', msg('account.noticePasskey')],
  ['confirmed', msg('account.noticeConfirmed')],
  ['verification-sent', msg('account.noticeVerificationSent')],
  ['elevation-requested', msg('account.elevation.noticeRequested')],
  ['elevation-active', msg('account.elevation.noticeActive')],
  ['elevation-ended', msg('account.elevation.noticeEnded')],
  ['elevation-step-up', msg('account.elevation.noticeStepUp')],
]);

const PROOF_ANSWERS: Record<Exclude<FactorChangeProof, 'ok'>, { error: string; description: Message }> = {
  'sign-in-again': { error: 'reauthentication_required', description: msg('account.errors.signInAgain') },
  // RFC 9470's error for an authentication that is recent enough but too weak.
  'second-factor': { error: 'insufficient_user_authentication', description: msg('account.errors.secondFactor') },
};

/** "Chrome 126 on Windows 10", in the reader's language. */
function describeDevice(userAgent: string): Message {
  if (!userAgent) return msg('account.unknownDevice');
  const ua = parseUserAgent(userAgent);
  const browser = ua.browser === 'Other' ? msg('account.otherBrowser') : [ua.browser, ua.browserMajor].filter((part) => part !== undefined).join(' ');
  const os = ua.os === 'Other' ? msg('account.otherSystem') : [ua.os, ua.osMajor].filter((part) => part !== undefined).join(' ');
  return msg('account.deviceDescription', { browser, os });
}

/** /account: a person's factors and sessions, behind Vigil's own sign-in. */
export function accountRoutes(deps: AccountDeps): Router {
  const router = new Router({ prefix: '/account' });
  const signIn = new FirstPartySignIn(deps, ACCOUNT_APP, 'vigil.account');
  const forms = new FormTokens(deps.keys, 'account-csrf');
  const reveal = new RecoveryCodeReveal(deps.challenges, deps.keys);
  const csrfFor = (s: FirstPartySession) => forms.issue(s);
  const proofOf = (s: FirstPartySession, factors: AccountFactors) => factorChangeProof(s, hasSecondFactor(factors), deps.config.VIGIL_REAUTH_SECONDS);

  /**
   * Sends the browser to prove what a change of sign-in methods needs, then back to the account
   * page: a fresh sign-in (with the second factor if the account has one) when the sign-in is old,
   * the second factor alone (a step-up of the same session) when the sign-in is recent but was a
   * password only.
   */
  function startProof(ctx: Context, proof: FactorChangeProof, secondFactor: boolean) {
    const next = '/account?done=confirmed';
    if (proof === 'second-factor') signIn.start(ctx, { next, acrValues: FACTOR_CHANGE_ACR });
    else signIn.start(ctx, { next, prompt: 'login', acrValues: secondFactor ? FACTOR_CHANGE_ACR : undefined });
  }

  /**
   * Guards a page or an action. An action that changes sign-in methods (`changesFactors`) also
   * needs a recent sign-in, at 2fa or above when the account has a second factor: a stolen
   * password alone must never add, remove or replace a factor.
   */
  async function require(ctx: Context, options: { changesFactors?: boolean; json?: boolean } = {}): Promise<SignedIn | undefined> {
    const signed = await signIn.signedIn(ctx);
    if (signed && !options.changesFactors) return signed;
    const factors = signed ? await factorsOf(signed.account.id) : undefined;
    const proof = signed && factors ? proofOf(signed.session, factors) : undefined;
    if (proof === 'ok') return signed;
    if (options.json) {
      const { error, description } = proof ? PROOF_ANSWERS[proof] : { error: 'login_required', description: msg('account.errors.signInFirst') };
      ctx.status = 401;
      ctx.body = { error, error_description: viewLanguage(ctx, deps.views).t(description), redirect: `/account/login?reauth=${signed ? 1 : 0}` };
    } else if (proof && factors) {
      startProof(ctx, proof, hasSecondFactor(factors));
    } else {
      signIn.start(ctx, { next: '/account' });
    }
    return undefined;
  }

  async function factorsOf(accountId: string) {
    const [totp, pendingTotp, passkeys, recoveryLeft] = await Promise.all([
      deps.totp.isEnrolled(accountId), deps.totp.pendingSecret(accountId).then(Boolean), deps.passkeys.list(accountId), deps.recovery.remaining(accountId),
    ]);
    return { totp, pendingTotp, passkeys, recoveryLeft };
  }

  /**
   * Recovery codes back up a passkey or the authenticator app. When the last of those goes, they
   * go too: left alone they would be a second factor of their own. Returns how many were cleared.
   */
  async function clearRecoveryCodesWithoutFactor(accountId: string): Promise<number> {
    const { totp, passkeys, recoveryLeft } = await factorsOf(accountId);
    if (totp || passkeys.length > 0 || recoveryLeft === 0) return 0;
    await deps.recovery.clear(accountId);
    return recoveryLeft;
  }

  /** A credential change is a security event: audited, and every other session of the person ends. */
  /** `credentialType` undefined: no CAEP type fits (recovery codes), so no credential-change event goes out. */
  async function credentialChanged(ctx: Context, signed: SignedIn, action: string, details: { credentialType?: CaepCredentialType; changeType: 'create' | 'update' | 'delete' } & Record<string, unknown>) {
    // What the change was allowed on: a password-only sign-in changes factors only where there was no second factor.
    const proof = { acr: signed.session.acr, amr: signed.session.amr, authTime: signed.session.authTime };
    await deps.audit.append({ actor: signed.account.id, action, subject: signed.account.id, ip: ctx.state.clientIp, outcome: 'success', details: { ...details, proof } });
    if (details.credentialType) await deps.securityEvents?.emit([credentialChange(signed.account.id, details.credentialType, details.changeType, 'user')]);
    await deps.revocations.account(signed.account.id, { initiator: 'user', actor: signed.account.id, reason: action, ip: ctx.state.clientIp }, { keepSessionUid: signed.session.sessionUid });
  }

  function checkCsrf(signed: SignedIn, value: unknown) {
    forms.check(signed.session, value);
  }

  async function showAccount(ctx: Context, signed: SignedIn, vars: Record<string, unknown> = {}, status = 200) {
    const factors = await factorsOf(signed.account.id);
    const [opSessions, activity] = await Promise.all([
      deps.adapters.for('Session').findByAccountId(signed.account.id),
      deps.activity.forAccount(signed.account.id),
    ]);
    const sessions = opSessions.map((s) => {
      const seen = activity.get(s.uid as string);
      return {
        uid: s.uid, current: s.uid === signed.session.sessionUid,
        device: describeDevice(seen?.userAgent ?? ''), ip: seen?.ip ?? msg('account.unknownAddress'),
        lastSeen: seen?.lastSeenAt.toISOString() ?? new Date(((s.loginTs as number) ?? 0) * 1000).toISOString(),
      };
    }).sort((a, b) => (a.current ? -1 : b.current ? 1 : b.lastSeen.localeCompare(a.lastSeen)));
    const elevation = deps.elevations ? await elevationSection(deps.elevations, signed) : undefined;
    renderPage(ctx, deps.views, 'account.njk', {
      title: msg('account.title'), wide: true, account: signed.account, csrf: csrfFor(signed.session), factors, sessions, elevation,
      proof: proofOf(signed.session, factors), ...vars,
    }, status);
  }

  router.get('/', async (ctx) => {
    const signed = await require(ctx);
    if (!signed) return;
    // Codes a passkey registration issued: this page shows them once.
    const recoveryCodes = await reveal.take(signed.session);
    await showAccount(ctx, signed, { notice: NOTICES.get(String(ctx.query.done)), recoveryCodes });
  });

  router.get('/login', async (ctx) => {
    const signed = ctx.query.reauth === '1' ? await signIn.signedIn(ctx) : undefined;
    if (!signed) return signIn.start(ctx, { next: '/account' });
    const factors = await factorsOf(signed.account.id);
    const proof = proofOf(signed.session, factors);
    if (proof !== 'ok') return startProof(ctx, proof, hasSecondFactor(factors));
    ctx.status = 303;
    ctx.redirect('/account');
  });

  router.get('/callback', async (ctx) => {
    await signIn.complete(ctx, MAX_ACCOUNT_SESSION);
  });

  router.get('/signed-out', (ctx) => {
    renderPage(ctx, deps.views, 'logged-out.njk', { title: msg('loggedOut.title') });
  });

  router.post('/logout', async (ctx) => {
    const signed = await require(ctx);
    if (!signed) return;
    checkCsrf(signed, (await readForm(ctx)).csrf);
    signIn.signOut(ctx);
  });

  router.post('/elevations', async (ctx) => {
    const signed = await require(ctx);
    if (!signed || !deps.elevations) return;
    const form = await readForm(ctx);
    checkCsrf(signed, form.csrf);
    const parsed = elevationForm.safeParse(form);
    if (!parsed.success) return showAccount(ctx, signed, { error: msg('account.elevation.invalid') }, 400);
    const { role, minutes, reason } = parsed.data;
    // The role would not reach tokens of this sign-in: the step-up first, then the person asks again.
    const needed = stepUpFor(deps.elevations, role, signed.session.acr);
    if (needed) return signIn.start(ctx, { next: '/account?done=elevation-step-up', acrValues: needed });
    try {
      const e = await deps.elevations.request(actorOf(signed, ctx.state.clientIp), { role, durationSeconds: minutes * 60, reason });
      ctx.status = 303;
      ctx.redirect(`/account?done=${e.status === 'active' ? 'elevation-active' : 'elevation-requested'}`);
    } catch (err) {
      if (err instanceof ElevationError) return showAccount(ctx, signed, { error: refusalMessage(err, role) }, err.status === 409 ? 409 : 400);
      throw err;
    }
  });

  router.post('/elevations/:id/revoke', async (ctx) => {
    const signed = await require(ctx);
    if (!signed || !deps.elevations) return;
    checkCsrf(signed, (await readForm(ctx)).csrf);
    try {
      await deps.elevations.revoke(actorOf(signed, ctx.state.clientIp), ctx.params.id, 'ended by the person on /account');
    } catch (err) {
      if (err instanceof ElevationError) return showAccount(ctx, signed, { error: msg('account.elevation.refused') }, err.status === 404 ? 404 : 409);
      throw err;
    }
    ctx.status = 303;
    ctx.redirect('/account?done=elevation-ended');
  });

  router.post('/email/verify', async (ctx) => {
    const signed = await require(ctx);
    if (!signed) return;
    checkCsrf(signed, (await readForm(ctx)).csrf);
    if (!signed.account.emailVerified) {
      const refused = await deps.accountRecovery.requestVerification(signed.account, ctx.state.clientIp as string, viewLanguage(ctx, deps.views).lang);
      if (refused) {
        ctx.set('Retry-After', String(refused.retryAfterSeconds));
        return showAccount(ctx, signed, { error: msg('verify.tooMany', { wait: waitMessage(refused.retryAfterSeconds) }) }, 429);
      }
    }
    ctx.status = 303;
    ctx.redirect('/account?done=verification-sent');
  });

  router.post('/totp/begin', async (ctx) => {
    const signed = await require(ctx, { changesFactors: true });
    if (!signed) return;
    checkCsrf(signed, (await readForm(ctx)).csrf);
    let enrolment;
    try {
      enrolment = await deps.totp.begin(signed.account.id, signed.account.email);
    } catch (err) {
      // The one refusal: an app was confirmed (in another tab) since the page was drawn.
      if (!await deps.totp.isEnrolled(signed.account.id)) throw err;
      return showAccount(ctx, signed, { error: msg('account.errors.totpAlreadySetUp') }, 409);
    }
    renderPage(ctx, deps.views, 'totp-enrol.njk', { title: msg('totp.title'), csrf: csrfFor(signed.session), ...enrolment });
  });

  router.post('/totp/confirm', async (ctx) => {
    const signed = await require(ctx, { changesFactors: true });
    if (!signed) return;
    const form = await readForm(ctx);
    checkCsrf(signed, form.csrf);
    const result: TotpCheck = await deps.totp.confirm(signed.account.id, (form.code ?? '').replace(/\s/g, ''));
    if (result !== 'ok') {
      const secret = await deps.totp.pendingSecret(signed.account.id);
      if (!secret) return showAccount(ctx, signed, { error: msg('account.errors.totpStartAgain') }, 400);
      await deps.audit.append({ actor: signed.account.id, action: 'mfa.totp_enrolment', ip: ctx.state.clientIp, outcome: 'failure', details: { reason: result } });
      return renderPage(ctx, deps.views, 'totp-enrol.njk', {
        title: msg('totp.title'), csrf: csrfFor(signed.session), secret, qrDataUri: undefined,
        error: msg(result === 'replayed' ? 'account.errors.totpReplayed' : 'account.errors.totpWrong'),
      }, 400);
    }
    const codes = await deps.recovery.issue(signed.account.id);
    await credentialChanged(ctx, signed, 'mfa.totp_enrolled', { credentialType: 'app', changeType: 'create' });
    renderPage(ctx, deps.views, 'recovery-codes.njk', { title: msg('recovery.title'), codes, reason: msg('recovery.reasonTotp') });
  });

  router.post('/totp/remove', async (ctx) => {
    const signed = await require(ctx, { changesFactors: true });
    if (!signed) return;
    checkCsrf(signed, (await readForm(ctx)).csrf);
    if (await deps.totp.remove(signed.account.id)) {
      // Kept while a passkey remains: they are what the person falls back on when it is lost.
      const recoveryCodesCleared = await clearRecoveryCodesWithoutFactor(signed.account.id);
      await credentialChanged(ctx, signed, 'mfa.totp_removed', { credentialType: 'app', changeType: 'delete', recoveryCodesCleared });
    }
    ctx.status = 303;
    ctx.redirect('/account');
  });

  router.post('/recovery/regenerate', async (ctx) => {
    const signed = await require(ctx, { changesFactors: true });
    if (!signed) return;
    checkCsrf(signed, (await readForm(ctx)).csrf);
    // Recovery codes back up a factor; they are never a password-only person's first factor.
    const factors = await factorsOf(signed.account.id);
    if (!factors.totp && factors.passkeys.length === 0) {
      return showAccount(ctx, signed, { error: msg('account.errors.recoveryNeedsFactor') }, 409);
    }
    const codes = await deps.recovery.issue(signed.account.id);
    await credentialChanged(ctx, signed, 'mfa.recovery_codes_issued', { changeType: 'update' });
    renderPage(ctx, deps.views, 'recovery-codes.njk', { title: msg('recovery.title'), codes, reason: msg('recovery.reasonRegenerated') });
  });

  router.post('/passkeys/options', async (ctx) => {
    const signed = await require(ctx, { changesFactors: true, json: true });
    if (!signed) return;
    checkCsrf(signed, (await readJson(ctx)).csrf);
    ctx.set('Cache-Control', 'no-store');
    ctx.body = await deps.passkeys.registrationOptions(signed.account, `register:${signed.session.sessionUid}`);
  });

  router.post('/passkeys/verify', async (ctx) => {
    const signed = await require(ctx, { changesFactors: true, json: true });
    if (!signed) return;
    const body = await readJson(ctx);
    checkCsrf(signed, body.csrf);
    const name = typeof body.name === 'string' && body.name.trim() ? body.name.trim().slice(0, 64) : 'Passkey';
    try {
      const passkey = await deps.passkeys.register(signed.account.id, `register:${signed.session.sessionUid}`, body.response as RegistrationResponseJSON, name);
      // Without recovery codes, losing the only passkey would lock the person out: it comes with
      // codes, as the authenticator app does. A later passkey keeps the codes the person has.
      let recoveryCodesIssued = 0;
      if (await deps.recovery.remaining(signed.account.id) === 0) {
        const codes = await deps.recovery.issue(signed.account.id);
        await reveal.hold(signed.session, codes);
        recoveryCodesIssued = codes.length;
      }
      await credentialChanged(ctx, signed, 'mfa.passkey_registered', { credentialType: passkeyCredentialType(passkey.transports), changeType: 'create', credential: passkey.id, name, recoveryCodesIssued });
      ctx.body = { redirect: '/account?done=passkey' };
    } catch (err) {
      if (!(err instanceof PasskeyError)) throw err;
      await deps.audit.append({ actor: signed.account.id, action: 'mfa.passkey_registration', ip: ctx.state.clientIp, outcome: 'failure', details: { reason: err.code } });
      ctx.status = 400;
      ctx.body = { error: 'invalid_request', error_description: viewLanguage(ctx, deps.views).t(PASSKEY_FAILURE_MESSAGES[err.code]) };
    }
  });

  router.post('/passkeys/:id/remove', async (ctx) => {
    const signed = await require(ctx, { changesFactors: true });
    if (!signed) return;
    checkCsrf(signed, (await readForm(ctx)).csrf);
    const removed = await deps.passkeys.remove(signed.account.id, ctx.params.id);
    if (removed) {
      const recoveryCodesCleared = await clearRecoveryCodesWithoutFactor(signed.account.id);
      await credentialChanged(ctx, signed, 'mfa.passkey_removed', { credentialType: passkeyCredentialType(removed.transports), changeType: 'delete', credential: ctx.params.id, recoveryCodesCleared });
    }
    ctx.status = 303;
    ctx.redirect('/account');
  });

  router.post('/passkeys/:id/rename', async (ctx) => {
    const signed = await require(ctx);
    if (!signed) return;
    const form = await readForm(ctx);
    checkCsrf(signed, form.csrf);
    const name = (form.name ?? '').trim().slice(0, 64);
    if (!name) return showAccount(ctx, signed, { error: msg('account.errors.passkeyNameMissing') }, 400);
    if (await deps.passkeys.rename(signed.account.id, ctx.params.id, name)) {
      await deps.audit.append({ actor: signed.account.id, action: 'mfa.passkey_renamed', subject: signed.account.id, ip: ctx.state.clientIp, outcome: 'success', details: { credential: ctx.params.id, name } });
    }
    ctx.status = 303;
    ctx.redirect('/account');
  });

  router.post('/sessions/:uid/revoke', async (ctx) => {
    const signed = await require(ctx);
    if (!signed) return;
    checkCsrf(signed, (await readForm(ctx)).csrf);
    const theirs = (await deps.adapters.for('Session').findByAccountId(signed.account.id)).some((s) => s.uid === ctx.params.uid);
    if (theirs) await deps.revocations.session(ctx.params.uid, { initiator: 'user', actor: signed.account.id, reason: 'signed out from the account page', ip: ctx.state.clientIp });
    if (ctx.params.uid === signed.session.sessionUid) signIn.forget(ctx);
    ctx.status = 303;
    ctx.redirect('/account');
  });

  return router;
}
