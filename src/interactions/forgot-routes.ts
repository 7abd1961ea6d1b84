import Router from '@koa/router';
import type { Context } from 'koa';
import { emailSchema } from '../identity/index.ts';
import { readForm } from '../http/form.ts';
import { renderPage, viewLanguage } from '../http/views.ts';
import { msg, waitMessage, type Message } from '../i18n/index.ts';
import { directoryOf, type Interaction, type InteractionKit } from './shared.ts';

function showForgot(ctx: Context, kit: InteractionKit, interaction: Interaction, vars: { email?: string; error?: Message } = {}, status = 200) {
  renderPage(ctx, kit.deps.views, 'forgot-password.njk', {
    title: msg('forgot.title'), uid: interaction.uid, csrf: kit.csrf(interaction.uid), email: vars.email ?? interaction.params.login_hint ?? '', error: vars.error,
  }, status);
}

/**
 * "Forgot password?" from the sign-in page: the address typed gets a reset link if an account
 * has it. The page answers the same whatever the address (the mail goes out after the response),
 * except when a limit refuses the request, which it does for any address alike.
 */
export function forgotRoutes(kit: InteractionKit): Router {
  const router = new Router();

  router.get('/interaction/:uid/forgot', async (ctx) => {
    showForgot(ctx, kit, await kit.interaction(ctx, 'login'));
  });

  router.post('/interaction/:uid/forgot', async (ctx) => {
    const interaction = await kit.interaction(ctx, 'login');
    const form = await readForm(ctx);
    kit.checkCsrf(interaction.uid, form.csrf);
    const email = (form.email ?? '').trim();
    if (!emailSchema.safeParse(email).success) return showForgot(ctx, kit, interaction, { email, error: msg('forgot.errors.email') }, 400);
    // The domain is routed to the directory whatever the account (the sign-in page tells as much): no link to send.
    const directory = directoryOf(kit.deps.federation, email);
    if (directory) return showForgot(ctx, kit, interaction, { email, error: msg('login.directoryPassword', { provider: directory }) }, 400);
    // The mail is in the language this page is in.
    const refused = await kit.deps.accountRecovery.requestReset(email, ctx.state.clientIp as string, viewLanguage(ctx, kit.deps.views).lang);
    if (refused) {
      ctx.set('Retry-After', String(refused.retryAfterSeconds));
      return showForgot(ctx, kit, interaction, { email, error: msg('forgot.errors.tooMany', { wait: waitMessage(refused.retryAfterSeconds) }) }, 429);
    }
    renderPage(ctx, kit.deps.views, 'forgot-password-sent.njk', {
      title: msg('forgot.sentTitle'), uid: interaction.uid, email, minutes: kit.deps.config.VIGIL_PASSWORD_RESET_TTL_MINUTES,
    });
  });

  return router;
}
