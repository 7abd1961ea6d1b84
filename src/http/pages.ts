import type { Configuration, KoaContextWithOIDC } from 'oidc-provider';
import { renderPage, type Views } from './views.ts';
import { msg } from '../i18n/index.ts';

type RpLogout = NonNullable<NonNullable<Configuration['features']>['rpInitiatedLogout']>;

/** Pages oidc-provider renders itself, drawn with Vigil's templates. */
export function providerPages(views: Views) {
  const renderError: NonNullable<Configuration['renderError']> = async (ctx, out) => {
    renderPage(ctx, views, 'error.njk', {
      title: msg('error.titleSignIn'),
      error: out.error,
      description: out.error_description,
    }, ctx.status >= 400 ? ctx.status : 400);
  };

  const logoutSource: RpLogout['logoutSource'] = async (ctx: KoaContextWithOIDC, form: string) => {
    const client = ctx.oidc.client;
    // `form` is markup produced by oidc-provider (an empty form with its own xsrf field).
    renderPage(ctx, views, 'logout.njk', { title: msg('logout.title'), form, clientName: client?.clientName ?? client?.clientId });
  };

  const postLogoutSuccessSource: RpLogout['postLogoutSuccessSource'] = async (ctx: KoaContextWithOIDC) => {
    const client = ctx.oidc.client;
    renderPage(ctx, views, 'logged-out.njk', { title: msg('loggedOut.title'), clientName: client?.clientName ?? client?.clientId });
  };

  return { renderError, logoutSource, postLogoutSuccessSource };
}
