import Router from '@koa/router';
import type { Context } from 'koa';
import { ACR } from '../config/index.ts';
import { emailSchema, verifyPassword } from '../identity/index.ts';
import { satisfies, strongestAcr } from '../mfa/index.ts';
import { readForm } from '../http/form.ts';
import { renderPage } from '../http/views.ts';
import { msg, waitMessage, type Message } from '../i18n/index.ts';
import { directoryOf, seeOther, type FactorSubject, type Interaction, type InteractionKit } from './shared.ts';
import { showFactors } from './factor-routes.ts';
import type { FederationSteps } from './federation-routes.ts';

const GENERIC_FAILURE = msg('login.errors.wrong');
const RISK_DENIED = msg('login.errors.riskDenied');
const RISK_NO_FACTOR = msg('login.errors.riskNoFactor');
const EXPOSED_NO_FACTOR = msg('login.errors.exposedNoFactor');
const STEP_UP_NO_FACTOR = msg('login.errors.stepUpNoFactor');

/**
 * The sign-in page. With federation configured it asks for the email first (`step: 'email'`, with
 * the providers' buttons) and the password only for a local or directory account.
 */
async function showLogin(ctx: Context, kit: InteractionKit, interaction: Interaction, vars: { email?: string; error?: Message; retryAfter?: number; step?: 'email' | 'password' } = {}, status = 200) {
  if (vars.retryAfter) ctx.set('Retry-After', String(vars.retryAfter));
  const registry = kit.deps.federation?.registry();
  const emailFirst = registry?.configured === true && (vars.step ?? 'email') === 'email';
  renderPage(ctx, kit.deps.views, 'login.njk', {
    emailFirst,
    directory: !emailFirst && vars.email ? directoryOf(kit.deps.federation, vars.email) : undefined,
    buttons: emailFirst ? registry!.buttons() : [],
    title: msg('login.title'),
    uid: interaction.uid,
    csrf: kit.csrf(interaction.uid),
    clientName: await kit.clientName(interaction),
    email: vars.email ?? interaction.params.login_hint ?? '',
    error: vars.error,
  }, status);
}

/** The password step, consent, and cancelling. */
export function loginRoutes(kit: InteractionKit, federation?: FederationSteps): Router {
  const router = new Router();
  const { deps } = kit;

  // Home realm discovery: the email decides where the person signs in.
  router.post('/interaction/:uid/identify', async (ctx) => {
    const interaction = await kit.interaction(ctx, 'login');
    const form = await readForm(ctx);
    kit.checkCsrf(interaction.uid, form.csrf);
    const email = (form.email ?? '').trim();
    if (!emailSchema.safeParse(email).success) return showLogin(ctx, kit, interaction, { email, error: msg('login.errors.emailMissing') }, 400);
    const provider = deps.federation?.registry().route(email);
    if (provider && provider.source.kind !== 'ldap') {
      return seeOther(ctx, `/interaction/${interaction.uid}/federation/${encodeURIComponent(provider.config.id)}?login_hint=${encodeURIComponent(email)}`);
    }
    return showLogin(ctx, kit, interaction, { email, step: 'password' });
  });

  router.get('/interaction/:uid', async (ctx) => {
    const interaction = await kit.interaction(ctx);
    if (interaction.prompt.name === 'login') {
      const subject = await kit.factorSubject(interaction);
      return subject ? showFactors(ctx, kit, interaction, subject) : showLogin(ctx, kit, interaction);
    }
    const missing = interaction.prompt.details as { missingOIDCScope?: string[]; missingOIDCClaims?: string[]; missingResourceScopes?: Record<string, string[]> };
    renderPage(ctx, deps.views, 'consent.njk', {
      title: msg('consent.title'),
      uid: interaction.uid,
      csrf: kit.csrf(interaction.uid),
      clientName: await kit.clientName(interaction),
      scopes: (missing.missingOIDCScope ?? []).filter((s) => s !== 'openid'),
      claims: missing.missingOIDCClaims ?? [],
      resources: Object.entries(missing.missingResourceScopes ?? {}).map(([resource, scopes]) => ({ resource, scopes })),
    });
  });

  router.post('/interaction/:uid/login', async (ctx) => {
    const interaction = await kit.interaction(ctx, 'login');
    const form = await readForm(ctx);
    kit.checkCsrf(interaction.uid, form.csrf);
    const email = (form.email ?? '').trim();
    const password = form.password ?? '';
    const ip = ctx.state.clientIp as string;
    if (!emailSchema.safeParse(email).success || password.length === 0 || password.length > 1024) {
      return showLogin(ctx, kit, interaction, { email, error: msg('login.errors.missing'), step: 'password' }, 400);
    }
    const routed = deps.federation?.registry().route(email);
    if (routed && federation) {
      if (routed.source.kind !== 'ldap') return seeOther(ctx, `/interaction/${interaction.uid}/federation/${encodeURIComponent(routed.config.id)}?login_hint=${encodeURIComponent(email)}`);
      const done = await federation.directoryPassword(ctx, interaction, routed, email, password);
      if ('refused' in done) return showLogin(ctx, kit, interaction, { email, error: done.refused, step: 'password' }, done.status);
      return seeOther(ctx, done.redirect);
    }
    const [attempt, found] = await Promise.all([deps.throttle.begin(email, ip), deps.accounts.findForLogin(email)]);
    if (attempt.refused) {
      // Answered before any password is checked: the same page, status and time for a right one.
      const { limit, retryAfterSeconds } = attempt.refused;
      deps.metrics.logins.inc({ outcome: 'locked' });
      await deps.audit.append({ actor: found?.account.id ?? email.toLowerCase(), action: 'login', ip, outcome: 'denied', details: { reason: 'rate_limited', limit } });
      return showLogin(ctx, kit, interaction, {
        email,
        error: msg('login.errors.tooMany', { wait: waitMessage(retryAfterSeconds) }),
        retryAfter: retryAfterSeconds,
        step: 'password',
      }, 429);
    }
    const ok = await verifyPassword(found?.passwordHash, password);
    if (!ok || !found) {
      await deps.throttle.failed(email);
      await deps.verifier.loginFailed(found?.account.id, ip);
      deps.metrics.logins.inc({ outcome: 'failure' });
      await deps.audit.append({ actor: found?.account.id ?? email.toLowerCase(), action: 'login', ip, outcome: 'failure', details: { reason: found ? 'bad_password' : 'unknown_account' } });
      return showLogin(ctx, kit, interaction, { email, error: GENERIC_FAILURE, step: 'password' }, 401);
    }
    if (found.account.disabled) {
      // The password was right: not a guess, whatever the account's state.
      await deps.throttle.succeeded(email, ip);
      deps.metrics.logins.inc({ outcome: 'disabled' });
      await deps.audit.append({ actor: found.account.id, action: 'login', ip, outcome: 'denied', details: { reason: 'account_disabled' } });
      return showLogin(ctx, kit, interaction, { email, error: msg('login.errors.disabled'), step: 'password' }, 403);
    }
    const accountId = found.account.id;
    // What the account owes is read beside the assessment (needed unless it refuses).
    const [verdict, owed] = await Promise.all([kit.assessLogin(ctx, interaction, accountId), deps.signInRequirements.find(accountId)]);
    const decision = verdict?.assessment.decision;
    // A refused sign-in counts against the throttle like a wrong password, so that the distinct
    // page cannot be used to test passwords from a blocked address at speed.
    const refuse = async (error: Message, details: Record<string, unknown>) => {
      await deps.throttle.failed(email);
      deps.metrics.logins.inc({ outcome: 'risk_denied' });
      await deps.audit.append({ actor: accountId, action: 'login', ip, outcome: 'denied', details: { ...details, ...(verdict ? { score: verdict.assessment.score, rules: verdict.assessment.rules } : {}) } });
      return showLogin(ctx, kit, interaction, { email, error, step: 'password' }, 403);
    };
    if (decision?.action === 'deny') return refuse(RISK_DENIED, { reason: 'risk' });
    // A second factor the request did not ask for: the risk engine's, one the account owes (a
    // compromised password), or the attack limit's. The attack limit asks only an account that has
    // a factor: refusing one that has none would hand the attacker a lockout of anyone.
    const attackAcr = attempt.underAttack && await kit.hasSecondFactor(accountId) ? ACR.twoFactor : undefined;
    if (attackAcr) await deps.audit.append({ actor: accountId, action: 'login', ip, outcome: 'info', details: { reason: 'account_under_attack', limit: 'account', needed: attackAcr } });
    const riskAcr = strongestAcr([decision?.action === 'mfa' ? decision.acr : undefined, owed?.requiredAcr, attackAcr]);
    const need = strongestAcr([kit.requiredAcr(interaction), riskAcr]);
    const subject: FactorSubject = { accountId, baseAmr: ['pwd'], stepUp: false, ...(riskAcr ? { riskAcr } : {}), ...(verdict ? { risk: verdict.context } : {}) };
    if (satisfies(ACR.oneFactor, need)) {
      await deps.throttle.succeeded(email, ip);
      return seeOther(ctx, await kit.finish(ctx, interaction, accountId, ['pwd'], { ...subject, checkedNow: { owed: owed !== undefined } }));
    }
    // The risk engine asks for a second factor the request did not: without one, the sign-in cannot go on.
    if (riskAcr && satisfies(ACR.oneFactor, kit.requiredAcr(interaction))) {
      const choices = await kit.factorChoices(subject, need);
      if (!choices.passkey && !choices.totp && !choices.recovery) {
        if (owed?.kind === 'step_up') return refuse(STEP_UP_NO_FACTOR, { reason: 'step_up_needs_factor', needed: riskAcr });
        return owed
          ? refuse(EXPOSED_NO_FACTOR, { reason: 'credentials_reported_compromised', needed: riskAcr })
          : refuse(RISK_NO_FACTOR, { reason: 'risk_needs_factor', needed: riskAcr });
      }
    }
    await deps.throttle.succeeded(email, ip);
    // More is needed: the second-factor page of this interaction takes over.
    await kit.passwordChecked(interaction, subject);
    seeOther(ctx, `/interaction/${interaction.uid}`);
  });

  router.post('/interaction/:uid/confirm', async (ctx) => {
    const provider = deps.provider();
    const interaction = await kit.interaction(ctx, 'consent');
    const form = await readForm(ctx);
    kit.checkCsrf(interaction.uid, form.csrf);
    const { session, params, prompt } = interaction;
    const accountId = session!.accountId;
    const missing = prompt.details as { missingOIDCScope?: string[]; missingOIDCClaims?: string[]; missingResourceScopes?: Record<string, string[]> };
    const grant = interaction.grantId
      ? (await provider.Grant.find(interaction.grantId))!
      : new provider.Grant({ accountId, clientId: params.client_id as string });
    if (missing.missingOIDCScope) grant.addOIDCScope(missing.missingOIDCScope.join(' '));
    if (missing.missingOIDCClaims) grant.addOIDCClaims(missing.missingOIDCClaims);
    for (const [indicator, scopes] of Object.entries(missing.missingResourceScopes ?? {})) grant.addResourceScope(indicator, scopes.join(' '));
    const grantId = await grant.save();
    await deps.audit.append({ actor: accountId, action: 'consent.granted', subject: params.client_id as string, ip: ctx.state.clientIp, outcome: 'success', details: { scopes: missing.missingOIDCScope ?? [] } });
    seeOther(ctx, await kit.result(interaction, { consent: { grantId } }, true));
  });

  router.post('/interaction/:uid/abort', async (ctx) => {
    await kit.interaction(ctx);
    const form = await readForm(ctx);
    kit.checkCsrf(ctx.params.uid, form.csrf);
    const redirect = form.reason === 'unmet'
      ? await kit.abort(ctx, 'unmet_authentication_requirements', 'The application needs a stronger sign-in than this account can give.')
      : await kit.abort(ctx, 'access_denied', 'The person declined the request.');
    seeOther(ctx, redirect);
  });

  return router;
}
