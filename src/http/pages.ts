import type { Configuration, KoaContextWithOIDC } from 'oidc-provider';
import { catalogueOf, clientNameOf, renderPage, type Views } from './views.ts';
import { msg } from '../i18n/index.ts';

type RpLogout = NonNullable<NonNullable<Configuration['features']>['rpInitiatedLogout']>;

/** Pages oidc-provider renders itself, drawn with Vigil's templates. */
export function providerPages(views: Views) {
  // oidc-provider's descriptions are English and technical: a person reads the code's sentence in
  // their language, the description after it as the detail.
  const renderError: NonNullable<Configuration['renderError']> = async (ctx, out) => {
    const explained = catalogueOf(views).has(`error.codes.${out.error}`);
    renderPage(ctx, views, 'error.njk', {
      title: msg('error.titleSignIn'),
      error: out.error,
      description: explained ? msg(`error.codes.${out.error}`) : out.error_description,
      detail: explained ? out.error_description : undefined,
    }, ctx.status >= 400 ? ctx.status : 400);
  };

  const logoutSource: RpLogout['logoutSource'] = async (ctx: KoaContextWithOIDC, form: string) => {
    const client = ctx.oidc.client;
    // `form` is markup produced by oidc-provider (an empty form with its own xsrf field).
    renderPage(ctx, views, 'logout.njk', { title: msg('logout.title'), form, clientName: clientNameOf(views, client) });
  };

  const postLogoutSuccessSource: RpLogout['postLogoutSuccessSource'] = async (ctx: KoaContextWithOIDC) => {
    const client = ctx.oidc.client;
    renderPage(ctx, views, 'logged-out.njk', { title: msg('loggedOut.title'), clientName: clientNameOf(views, client) });
  };

  return { renderError, logoutSource, postLogoutSuccessSource };
}
