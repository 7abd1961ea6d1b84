import Router from '@koa/router';
import type { Context } from 'koa';
import type { AuthenticationResponseJSON } from '@simplewebauthn/server';
import { acrForAmr, combineAmr, PASSKEY_FAILURE_MESSAGES, PasskeyError, satisfies, type TotpCheck } from '../mfa/index.ts';
import { readForm, readJson } from '../http/form.ts';
import { renderPage, viewLanguage } from '../http/views.ts';
import { msg, waitMessage, type Message } from '../i18n/index.ts';
import { ACR } from '../config/index.ts';
import { invalidRequest, seeOther, type FactorSubject, type Interaction, type InteractionKit } from './shared.ts';

const ceremony = (uid: string) => `webauthn:${uid}`;

const TOTP_MESSAGES: Record<Exclude<TotpCheck, 'ok'>, Message> = {
  wrong: msg('factor.errors.totpWrong'),
  replayed: msg('factor.errors.totpReplayed'),
  not_enrolled: msg('factor.errors.totpNotEnrolled'),
};

/** Which form an error is about: it is shown there (a page-wide error otherwise). */
type FactorForm = 'totp' | 'recovery';

/** The second-factor page: passkey first, authenticator app next, recovery code last. */
export async function showFactors(ctx: Context, kit: InteractionKit, interaction: Interaction, subject: FactorSubject, error?: Message, status = 200, errorFor?: FactorForm): Promise<void> {
  const need = kit.need(interaction, subject);
  const choices = await kit.factorChoices(subject, need);
  const account = await kit.deps.accounts.findById(subject.accountId);
  renderPage(ctx, kit.deps.views, 'factor.njk', {
    title: msg(subject.stepUp ? 'factor.titleStepUp' : 'factor.titleSignIn'),
    uid: interaction.uid,
    csrf: kit.csrf(interaction.uid),
    clientName: await kit.clientName(interaction),
    email: account?.email,
    stepUp: subject.stepUp,
    stepUpOwedBy: subject.stepUpOwedBy,
    phishingResistantOnly: !choices.totp && choices.passkey,
    passkeyNeeded: need === ACR.phishingResistant,
    choices,
    error,
    errorFor,
  }, status);
}

/** TOTP, recovery codes and WebAuthn, as a second factor or (passkeys) on their own. */
export function factorRoutes(kit: InteractionKit): Router {
  const router = new Router();
  const { deps } = kit;

  async function subjectOrRestart(ctx: Context, interaction: Interaction): Promise<FactorSubject> {
    const subject = await kit.factorSubject(interaction);
    if (!subject) throw invalidRequest('enter the password first', msg('login.errors.passwordFirst'));
    return subject;
  }

  /** One code-based factor (TOTP or recovery code): rate limited per account, then the sign-in completes. */
  async function codeFactor(ctx: Context, kind: 'totp' | 'recovery') {
    const interaction = await kit.interaction(ctx, 'login');
    const form = await readForm(ctx);
    kit.checkCsrf(interaction.uid, form.csrf);
    const subject = await subjectOrRestart(ctx, interaction);
    const key = subject.accountId;
    // Checked before anything is spent: a code that cannot reach the level must not be used up.
    const amr = combineAmr(subject.baseAmr, ['otp']);
    if (!satisfies(acrForAmr(amr), kit.need(interaction, subject))) {
      return showFactors(ctx, kit, interaction, subject, msg('factor.errors.needsPasskey'), 403);
    }
    // Reserved before the code is checked: a burst of guesses checks no more codes than the limit.
    const limit = await deps.factorLimiter.reserve(key);
    if (!limit.allowed) {
      ctx.set('Retry-After', String(limit.retryAfterSeconds));
      await deps.audit.append({ actor: key, action: `mfa.${kind}`, ip: ctx.state.clientIp, outcome: 'denied', details: { reason: 'rate_limited' } });
      return showFactors(ctx, kit, interaction, subject, msg('factor.errors.tooMany', { wait: waitMessage(limit.retryAfterSeconds) }), 429, kind);
    }
    const code = (form.code ?? '').trim();
    const result: TotpCheck = kind === 'totp'
      ? await deps.totp.verify(key, code.replace(/\s/g, ''))
      : (await deps.recovery.consume(key, code) ? 'ok' : 'wrong');
    if (result !== 'ok') {
      await deps.audit.append({ actor: key, action: `mfa.${kind}`, ip: ctx.state.clientIp, outcome: 'failure', details: { reason: result } });
      const message = kind === 'totp' ? TOTP_MESSAGES[result] : msg('factor.errors.recoveryWrong');
      return showFactors(ctx, kit, interaction, subject, message, 401, kind);
    }
    await deps.factorLimiter.reset(key);
    if (kind === 'recovery') await deps.audit.append({ actor: key, action: 'mfa.recovery_code_used', ip: ctx.state.clientIp, outcome: 'success', details: { remaining: await deps.recovery.remaining(key) } });
    seeOther(ctx, await kit.finish(ctx, interaction, key, amr, subject));
  }

  router.post('/interaction/:uid/totp', (ctx) => codeFactor(ctx, 'totp'));
  router.post('/interaction/:uid/recovery', (ctx) => codeFactor(ctx, 'recovery'));

  router.post('/interaction/:uid/webauthn/options', async (ctx) => {
    const interaction = await kit.interaction(ctx, 'login');
    const body = await readJson(ctx);
    kit.checkCsrf(interaction.uid, body.csrf);
    // With an account (second factor, step-up) its credentials; without, any discoverable passkey.
    const subject = await kit.factorSubject(interaction);
    ctx.set('Cache-Control', 'no-store');
    ctx.body = await deps.passkeys.authenticationOptions(ceremony(interaction.uid), subject?.accountId);
  });

  router.post('/interaction/:uid/webauthn/verify', async (ctx) => {
    const interaction = await kit.interaction(ctx, 'login');
    const body = await readJson(ctx);
    kit.checkCsrf(interaction.uid, body.csrf);
    ctx.set('Cache-Control', 'no-store');
    const subject = await kit.factorSubject(interaction);
    let assertion;
    try {
      assertion = await deps.passkeys.authenticate(ceremony(interaction.uid), body.response as AuthenticationResponseJSON);
    } catch (err) {
      if (!(err instanceof PasskeyError)) throw err;
      await deps.audit.append({
        actor: subject?.accountId ?? 'unknown', action: err.code === 'counter_regression' ? 'webauthn.counter_regression' : 'mfa.webauthn',
        ip: ctx.state.clientIp, outcome: 'failure', details: { reason: err.code, credential: String((body.response as { id?: unknown })?.id ?? '').slice(0, 200) },
      });
      ctx.status = 400;
      ctx.body = { error: 'invalid_request', error_description: viewLanguage(ctx, deps.views).t(PASSKEY_FAILURE_MESSAGES[err.code]) };
      return;
    }
    const account = await deps.accounts.findById(assertion.accountId);
    if (!account || account.disabled) {
      await deps.audit.append({ actor: assertion.accountId, action: 'login', ip: ctx.state.clientIp, outcome: 'denied', details: { reason: 'account_disabled', method: 'passkey' } });
      ctx.status = 403;
      ctx.body = { error: 'access_denied', error_description: viewLanguage(ctx, deps.views).t('login.errors.disabled') };
      return;
    }
    const amr = combineAmr(subject?.baseAmr ?? [], assertion.amr);
    if (!satisfies(acrForAmr(amr), kit.need(interaction, subject))) {
      ctx.status = 403;
      ctx.body = { error: 'access_denied', error_description: viewLanguage(ctx, deps.views).t('factor.errors.needsVerifyingPasskey') };
      return;
    }
    // A passkey of another account than the one whose password was checked proves nothing for it.
    const sameAccount = subject && subject.accountId === assertion.accountId ? subject : undefined;
    ctx.body = { redirect: await kit.finish(ctx, interaction, assertion.accountId, amr, sameAccount) };
  });

  return router;
}
