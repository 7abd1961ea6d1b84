import Router from '@koa/router';
import type { Context } from 'koa';
import type Provider from 'oidc-provider';
import { errors } from 'oidc-provider';
import { ACR, type Config } from '../config/index.ts';
import { constantTimeEqual, type KeyRing } from '../crypto/index.ts';
import { emailSchema, verifyPassword, type AccountStore } from '../identity/index.ts';
import type { AuditLog } from '../audit/index.ts';
import type { Logger, Metrics } from '../observability/index.ts';
import { readForm } from '../http/form.ts';
import { renderPage, type Views } from '../http/views.ts';
import type { LoginThrottle } from './login-throttle.ts';

export interface InteractionDeps {
  config: Config;
  provider: () => Provider;
  accounts: AccountStore;
  throttle: LoginThrottle;
  audit: AuditLog;
  keys: KeyRing;
  views: Views;
  metrics: Metrics;
  logger: Logger;
}

const GENERIC_FAILURE = 'The email or password is not correct.';

function formatWait(seconds: number): string {
  if (seconds < 90) return `${seconds} seconds`;
  return `${Math.ceil(seconds / 60)} minutes`;
}

/** The browser side of the provider: login and consent pages. */
export function interactionRoutes(deps: InteractionDeps): Router {
  const router = new Router();
  const csrfFor = (uid: string) => deps.keys.mac('csrf', `interaction:${uid}`);

  const checkCsrf = (uid: string, form: Record<string, string>) => {
    if (!form.csrf || !constantTimeEqual(form.csrf, csrfFor(uid))) {
      throw new errors.InvalidRequest('the form has expired or did not come from this page; please start again');
    }
  };

  const details = (ctx: Context) => deps.provider().interactionDetails(ctx.req, ctx.res);

  async function showLogin(ctx: Context, uid: string, vars: { email?: string; error?: string; retryAfter?: number } = {}, status = 200) {
    const interaction = await details(ctx);
    const client = await deps.provider().Client.find(interaction.params.client_id as string);
    if (vars.retryAfter) ctx.set('Retry-After', String(vars.retryAfter));
    renderPage(ctx, deps.views, 'login.njk', {
      title: 'Sign in',
      uid,
      csrf: csrfFor(uid),
      clientName: client?.clientName ?? client?.clientId,
      email: vars.email ?? interaction.params.login_hint ?? '',
      error: vars.error,
    }, status);
  }

  router.get('/interaction/:uid', async (ctx) => {
    const interaction = await details(ctx);
    if (interaction.uid !== ctx.params.uid) throw new errors.SessionNotFound('interaction mismatch');
    if (interaction.prompt.name === 'login') return showLogin(ctx, interaction.uid);
    const client = await deps.provider().Client.find(interaction.params.client_id as string);
    const missing = interaction.prompt.details as { missingOIDCScope?: string[]; missingOIDCClaims?: string[]; missingResourceScopes?: Record<string, string[]> };
    renderPage(ctx, deps.views, 'consent.njk', {
      title: 'Allow access',
      uid: interaction.uid,
      csrf: csrfFor(interaction.uid),
      clientName: client?.clientName ?? client?.clientId,
      scopes: (missing.missingOIDCScope ?? []).filter((s) => s !== 'openid'),
      claims: missing.missingOIDCClaims ?? [],
      resources: Object.entries(missing.missingResourceScopes ?? {}).map(([resource, scopes]) => ({ resource, scopes })),
    });
  });

  router.post('/interaction/:uid/login', async (ctx) => {
    const interaction = await details(ctx);
    if (interaction.uid !== ctx.params.uid || interaction.prompt.name !== 'login') throw new errors.InvalidRequest('this sign-in step is no longer current; please start again');
    const form = await readForm(ctx);
    checkCsrf(interaction.uid, form);
    const email = (form.email ?? '').trim();
    const password = form.password ?? '';
    const ip = ctx.state.clientIp as string;
    if (!emailSchema.safeParse(email).success || password.length === 0 || password.length > 1024) {
      return showLogin(ctx, interaction.uid, { email, error: 'Enter your email address and password.' }, 400);
    }
    const throttle = await deps.throttle.check(email, ip);
    if (throttle.locked) {
      deps.metrics.logins.inc({ outcome: 'locked' });
      await deps.audit.append({ actor: email.toLowerCase(), action: 'login', ip, outcome: 'denied', details: { reason: 'rate_limited' } });
      return showLogin(ctx, interaction.uid, {
        email,
        error: `Too many failed attempts. Try again in ${formatWait(throttle.retryAfterSeconds)}.`,
        retryAfter: throttle.retryAfterSeconds,
      }, 429);
    }
    const found = await deps.accounts.findForLogin(email);
    const ok = await verifyPassword(found?.passwordHash, password);
    if (!ok || !found) {
      await deps.throttle.recordFailure(email, ip);
      deps.metrics.logins.inc({ outcome: 'failure' });
      await deps.audit.append({ actor: found?.account.id ?? email.toLowerCase(), action: 'login', ip, outcome: 'failure', details: { reason: found ? 'bad_password' : 'unknown_account' } });
      return showLogin(ctx, interaction.uid, { email, error: GENERIC_FAILURE }, 401);
    }
    if (found.account.disabled) {
      deps.metrics.logins.inc({ outcome: 'disabled' });
      await deps.audit.append({ actor: found.account.id, action: 'login', ip, outcome: 'denied', details: { reason: 'account_disabled' } });
      return showLogin(ctx, interaction.uid, { email, error: 'This account is disabled. Contact your administrator.' }, 403);
    }
    await deps.throttle.recordSuccess(email);
    deps.metrics.logins.inc({ outcome: 'success' });
    await deps.audit.append({ actor: found.account.id, action: 'login', ip, outcome: 'success', details: { client: interaction.params.client_id, acr: ACR.oneFactor } });
    const redirectTo = await deps.provider().interactionResult(ctx.req, ctx.res, {
      login: { accountId: found.account.id, acr: ACR.oneFactor, amr: ['pwd'], remember: true },
    }, { mergeWithLastSubmission: false });
    ctx.status = 303;
    ctx.redirect(redirectTo);
  });

  router.post('/interaction/:uid/confirm', async (ctx) => {
    const provider = deps.provider();
    const interaction = await details(ctx);
    if (interaction.uid !== ctx.params.uid || interaction.prompt.name !== 'consent') throw new errors.InvalidRequest('this consent step is no longer current; please start again');
    const form = await readForm(ctx);
    checkCsrf(interaction.uid, form);
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
    const redirectTo = await provider.interactionResult(ctx.req, ctx.res, { consent: { grantId } }, { mergeWithLastSubmission: true });
    ctx.status = 303;
    ctx.redirect(redirectTo);
  });

  router.post('/interaction/:uid/abort', async (ctx) => {
    const interaction = await details(ctx);
    if (interaction.uid !== ctx.params.uid) throw new errors.InvalidRequest('this step is no longer current; please start again');
    const form = await readForm(ctx);
    checkCsrf(interaction.uid, form);
    const redirectTo = await deps.provider().interactionResult(ctx.req, ctx.res, {
      error: 'access_denied', error_description: 'The person declined the request.',
    }, { mergeWithLastSubmission: false });
    ctx.status = 303;
    ctx.redirect(redirectTo);
  });

  return router;
}
