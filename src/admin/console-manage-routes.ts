/**
 * The console's pages that create and edit: accounts, clients, a client's secret, registration
 * tokens. Administrators only (auditors see the client's settings, read-only). A form that the
 * service refuses is shown again with the reason and what was typed (nothing is stored); a secret
 * or token made is shown once, on the page that answers the POST, never in a URL.
 */
import type Router from '@koa/router';
import type { Context } from 'koa';
import { ACR_VALUES } from '../config/index.ts';
import { CLIENT_GRANT_TYPES, REGISTRATION_TOKEN_LIFETIME } from '../oidc/index.ts';
import { accountChangeFromForm, accountForm, clientForm, clientSettingsFromForm, newAccountFromForm, newInvitationFromForm, type Form } from './console-forms.ts';
import { parse, schemas } from './console-http.ts';
import { utcMinute } from './console-format.ts';
import type { AccessOptions, ConsoleGate, ConsoleUser } from './console-session.ts';
import { AdminError, type AdminOperations } from './types.ts';
import { withDefaults } from '../oidc/index.ts';

export interface ManageRouteDeps {
  admin: AdminOperations;
  gate: ConsoleGate;
  /** Renders a console page as `user`. */
  page(ctx: Context, user: ConsoleUser, template: string, vars: Record<string, unknown>, status?: number): void;
  /** A checked console POST (origin, sign-in, CSRF), or undefined when the person must sign in. */
  action(ctx: Context, access?: AccessOptions): Promise<{ user: ConsoleUser; form: Form } | undefined>;
}

/** How long a registration token may live, as the form offers it (seconds). */
const TOKEN_LIFETIMES: [number, string][] = [[3600, '1 hour'], [86_400, '1 day'], [7 * 86_400, '7 days'], [30 * 86_400, '30 days']];

const clientChoices = { grantTypes: CLIENT_GRANT_TYPES, acrValues: ACR_VALUES };

/** The form again with the service's reason (400/409), or the error as the console shows any other. */
async function refusedForm(ctx: Context, run: () => Promise<void>, again: (message: string, status: number) => void): Promise<void> {
  try {
    await run();
  } catch (err) {
    // 502: the invitation mail could not be sent (nothing was kept); the form again says so.
    if (err instanceof AdminError && (err.status === 400 || err.status === 409 || err.status === 502)) again(err.message, err.status);
    else throw err;
  }
}

export function addManageRoutes(router: Router, deps: ManageRouteDeps): void {
  const { admin, gate, page, action } = deps;

  /** A GET of an administrator's form: signed in, an administrator. */
  async function adminPage(ctx: Context): Promise<ConsoleUser | undefined> {
    const user = await gate.require(ctx);
    if (user) gate.requireAdmin(user);
    return user;
  }

  async function adminPost(ctx: Context) {
    const done = await action(ctx);
    if (done) gate.requireAdmin(done.user);
    return done;
  }

  const shownOnce = (ctx: Context, user: ConsoleUser, vars: { title: string; intro: string; values: [string, string, string][]; next: string; nextLabel: string }) =>
    page(ctx, user, 'shown-once.njk', { ...vars, nav: 'clients' });

  // Accounts.
  const accountFormPage = (ctx: Context, user: ConsoleUser, vars: { form: Form; editing?: { id: string; email: string }; error?: string }, status = 200) =>
    page(ctx, user, 'account-form.njk', {
      title: vars.editing ? `Edit ${vars.editing.email}` : 'Create an account', nav: 'accounts', ...vars,
      formAction: vars.editing ? `/admin/accounts/${encodeURIComponent(vars.editing.id)}/edit` : '/admin/accounts/new',
    }, status);

  router.get('/accounts/new', async (ctx) => {
    const user = await adminPage(ctx);
    if (user) accountFormPage(ctx, user, { form: {} });
  });
  router.post('/accounts/new', async (ctx) => {
    const done = await adminPost(ctx);
    if (!done) return;
    const { password: _never, ...shown } = done.form;
    await refusedForm(ctx, async () => {
      const { account, reason } = newAccountFromForm(done.form);
      const created = await admin.createAccount(done.user.principal, account, reason);
      ctx.status = 303;
      ctx.redirect(`/admin/accounts/${encodeURIComponent(created.id)}?done=account-created`);
    }, (error, status) => accountFormPage(ctx, done.user, { form: shown, error }, status));
  });

  router.get('/accounts/:id/edit', async (ctx) => {
    const user = await adminPage(ctx);
    if (!user) return;
    const account = await admin.account(parse(schemas.id, ctx.params.id, 'Account'));
    accountFormPage(ctx, user, { form: accountForm(account), editing: { id: account.id, email: account.email } });
  });
  router.post('/accounts/:id/edit', async (ctx) => {
    const done = await adminPost(ctx);
    if (!done) return;
    const account = await admin.account(parse(schemas.id, ctx.params.id, 'Account'));
    await refusedForm(ctx, async () => {
      const { change, reason } = accountChangeFromForm(done.form);
      await admin.updateAccount(done.user.principal, account.id, change, reason);
      ctx.status = 303;
      ctx.redirect(`/admin/accounts/${encodeURIComponent(account.id)}?done=account-updated`);
    }, (error, status) => accountFormPage(ctx, done.user, { form: done.form, editing: { id: account.id, email: account.email }, error }, status));
  });

  // Invitations: the person sets the account up from the mailed link.
  const invitationFormPage = (ctx: Context, user: ConsoleUser, vars: { form: Form; error?: string }, status = 200) =>
    page(ctx, user, 'invitation-form.njk', { title: 'Invite someone', nav: 'accounts', ...vars }, status);
  router.get('/invitations/new', async (ctx) => {
    const user = await adminPage(ctx);
    if (user) invitationFormPage(ctx, user, { form: {} });
  });
  router.post('/invitations/new', async (ctx) => {
    const done = await adminPost(ctx);
    if (!done) return;
    await refusedForm(ctx, async () => {
      const { invitation, reason } = newInvitationFromForm(done.form);
      await admin.invite(done.user.principal, invitation, reason);
      ctx.status = 303;
      ctx.redirect('/admin/accounts?done=invitation-sent');
    }, (error, status) => invitationFormPage(ctx, done.user, { form: done.form, error }, status));
  });

  // Clients.
  const clientFormPage = (ctx: Context, user: ConsoleUser, vars: { form: Form; editing?: { id: string; name: string; resource?: string }; error?: string }, status = 200) =>
    page(ctx, user, 'client-form.njk', {
      title: vars.editing ? `Edit ${vars.editing.name}` : 'Create a client', nav: 'clients', ...clientChoices, ...vars,
      formAction: vars.editing ? `/admin/clients/${encodeURIComponent(vars.editing.id)}/edit` : '/admin/clients/new',
    }, status);
  const clientCreated = (ctx: Context, user: ConsoleUser, result: { clientId: string; name: string; clientSecret?: string }, title: string) => {
    const values: [string, string, string][] = [['Client id', result.clientId, 'client-id']];
    if (result.clientSecret) values.push(['Client secret', result.clientSecret, 'client-secret']);
    shownOnce(ctx, user, {
      title, values, next: `/admin/clients/${encodeURIComponent(result.clientId)}`, nextLabel: `Go to ${result.name}`,
      intro: result.clientSecret ? 'Copy the client secret now: it is shown only on this page and cannot be read again (a new one can be made).' : 'A public client has no secret.',
    });
  };

  router.get('/clients/new', async (ctx) => {
    const user = await adminPage(ctx);
    if (user) clientFormPage(ctx, user, { form: { application_type: 'web', grant_authorization_code: 'on', grant_refresh_token: 'on', token_format: 'jwt' } });
  });
  router.post('/clients/new', async (ctx) => {
    const done = await adminPost(ctx);
    if (!done) return;
    await refusedForm(ctx, async () => {
      const { settings, reason } = clientSettingsFromForm(done.form, false);
      clientCreated(ctx, done.user, await admin.createClient(done.user.principal, withDefaults(settings), reason), 'Client created');
    }, (error, status) => clientFormPage(ctx, done.user, { form: done.form, error }, status));
  });

  router.get('/clients/:id', async (ctx) => {
    const user = await gate.require(ctx);
    if (!user) return;
    const client = await admin.client(parse(schemas.id, ctx.params.id, 'Client'));
    page(ctx, user, 'client.njk', { title: client.name, nav: 'clients', client });
  });

  router.get('/clients/:id/edit', async (ctx) => {
    const user = await adminPage(ctx);
    if (!user) return;
    const client = await admin.client(parse(schemas.id, ctx.params.id, 'Client'));
    clientFormPage(ctx, user, { form: clientForm(client.settings), editing: { id: client.clientId, name: client.name, resource: client.settings.resourceServer?.resource } });
  });
  router.post('/clients/:id/edit', async (ctx) => {
    const done = await adminPost(ctx);
    if (!done) return;
    const client = await admin.client(parse(schemas.id, ctx.params.id, 'Client'));
    const editing = { id: client.clientId, name: client.name, resource: client.settings.resourceServer?.resource };
    await refusedForm(ctx, async () => {
      const { settings, reason } = clientSettingsFromForm(done.form, true);
      const updated = await admin.updateClient(done.user.principal, client.clientId, settings, reason);
      // A public client made confidential gets its first secret: shown once, here.
      if (updated.clientSecret) return clientCreated(ctx, done.user, updated, 'Client updated');
      ctx.status = 303;
      ctx.redirect(`/admin/clients/${encodeURIComponent(client.clientId)}?done=client-updated`);
    }, (error, status) => clientFormPage(ctx, done.user, { form: done.form, editing, error }, status));
  });

  // A new secret ends the old one at once: asked for on a confirmation page first.
  router.get('/clients/:id/rotate-secret', async (ctx) => {
    const user = await adminPage(ctx);
    if (!user) return;
    const client = await admin.client(parse(schemas.id, ctx.params.id, 'Client'));
    page(ctx, user, 'confirm.njk', {
      title: 'Make a new client secret?', button: 'Make a new secret', danger: true, action: ctx.path, noReason: true, nav: 'clients',
      summary: `${client.name} will have to use the new secret at once: the current one stops working now. The new secret is shown once.`,
      facts: [['Client', client.name], ['Client id', client.clientId]], cancel: `/admin/clients/${encodeURIComponent(client.clientId)}`,
    });
  });
  router.post('/clients/:id/rotate-secret', async (ctx) => {
    const done = await adminPost(ctx);
    if (!done) return;
    const client = await admin.client(parse(schemas.id, ctx.params.id, 'Client'));
    const { clientSecret } = await admin.rotateClientSecret(done.user.principal, client.clientId);
    clientCreated(ctx, done.user, { clientId: client.clientId, name: client.name, clientSecret }, 'New client secret');
  });

  // Registration tokens (RFC 7591 initial access tokens).
  router.get('/registration-tokens/new', async (ctx) => {
    const user = await adminPage(ctx);
    if (user) page(ctx, user, 'registration-token.njk', { title: 'Create a registration token', nav: 'clients', lifetimes: TOKEN_LIFETIMES, selected: REGISTRATION_TOKEN_LIFETIME.default });
  });
  router.post('/registration-tokens/new', async (ctx) => {
    const done = await adminPost(ctx);
    if (!done) return;
    const lifetime = TOKEN_LIFETIMES.find(([seconds]) => String(seconds) === done.form.expires_in);
    if (!lifetime) throw new AdminError(400, 'invalid_request', `choose how long the token lasts: ${TOKEN_LIFETIMES.map(([, label]) => label).join(', ')}`);
    const { reason } = parse(schemas.reason, done.form, 'Reason');
    const made = await admin.createRegistrationToken(done.user.principal, lifetime[0], reason);
    shownOnce(ctx, done.user, {
      title: 'Registration token created', values: [['Initial access token', made.initialAccessToken, 'initial-access-token'], ['Expires', utcMinute(made.expiresAt), 'expires-at']],
      intro: 'Give this token to the developer registering a client (POST /reg with it as a bearer token). Copy it now: it is shown only on this page.',
      next: '/admin/clients', nextLabel: 'Back to the clients',
    });
  });
}
