/** What a first-party app's callback tells a person sent back with an authorization error instead of a code. */
import { notSignedIn, type NotSignedIn } from '../../src/first-party/not-signed-in.ts';
import { ACR } from '../../src/config/index.ts';
import { shippedCatalogue, translator } from '../../src/i18n/index.ts';

const account = { clientId: 'a', clientName: 'Your Vigil account', path: '/account', label: 'apps.account' };
const console_ = { clientId: 'c', clientName: 'Vigil admin console', path: '/admin', label: 'apps.adminConsole', acr: ACR.phishingResistant };

/** The page's texts as a person reading `lang` sees them. */
function said(page: NotSignedIn, lang = 'en') {
  const t = translator(shippedCatalogue(), lang, { product: 'Vigil' });
  return {
    title: t(page.title), lead: t(page.lead), retry: { href: page.retry.href, text: t(page.retry.text) }, error: page.error,
    ...(page.addFactor ? { addFactor: { href: page.addFactor.href, text: t(page.addFactor.text) } } : {}),
  };
}

test('a cancelled sign-in says so, with a way to try again and no factor link', () => {
  const page = said(notSignedIn(account, 'access_denied'));
  expect(page).toMatchObject({ title: 'Sign-in cancelled', retry: { href: '/account', text: 'Open your account page again' } });
  expect(page.lead).toMatch(/cancelled .*your account page was not opened/);
  expect(page.addFactor).toBeUndefined();
});

test('an unmet requirement names the missing factor and links to the account page', () => {
  expect(said(notSignedIn(console_, 'unmet_authentication_requirements'))).toMatchObject({
    addFactor: { href: '/account' }, retry: { href: '/admin' }, lead: expect.stringMatching(/needs a passkey or security key/),
  });
  expect(said(notSignedIn(account, 'unmet_authentication_requirements')).lead).toMatch(/needs a second factor/);
});

test('any other error: the sign-in did not complete, try again; the code shown as given', () => {
  expect(said(notSignedIn(console_, 'login_required'))).toMatchObject({ title: 'Sign-in failed', error: 'login_required', retry: { href: '/admin' } });
});

test('in German, the app is named in German', () => {
  expect(said(notSignedIn(account, 'access_denied'), 'de')).toMatchObject({
    title: 'Anmeldung abgebrochen', retry: { text: 'Ihre Kontoseite erneut öffnen' },
    lead: 'Die Anmeldung wurde abgebrochen (oder abgelehnt), daher wurde Ihre Kontoseite nicht geöffnet.',
  });
});

test('a code that is not one is not shown', () => {
  expect(notSignedIn(console_, '<script>x</script>').error).toBe('unknown_error');
});
