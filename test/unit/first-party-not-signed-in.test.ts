/** What a first-party app's callback tells a person sent back with an authorization error instead of a code. */
import { notSignedIn } from '../../src/first-party/not-signed-in.ts';
import { ACR } from '../../src/config/index.ts';

const account = { clientId: 'a', clientName: 'Your Vigil account', path: '/account', label: 'your account page' };
const console_ = { clientId: 'c', clientName: 'Vigil admin console', path: '/admin', label: 'the admin console', acr: ACR.phishingResistant };

test('a cancelled sign-in says so, with a way to try again and no factor link', () => {
  const page = notSignedIn(account, 'access_denied');
  expect(page).toMatchObject({ title: 'Sign-in cancelled', retry: { href: '/account' } });
  expect(page.lead).toMatch(/cancelled .*your account page was not opened/);
  expect(page.addFactor).toBeUndefined();
});

test('an unmet requirement names the missing factor and links to the account page', () => {
  expect(notSignedIn(console_, 'unmet_authentication_requirements')).toMatchObject({
    addFactor: { href: '/account' }, retry: { href: '/admin' }, lead: expect.stringMatching(/needs a passkey or security key/),
  });
  expect(notSignedIn(account, 'unmet_authentication_requirements').lead).toMatch(/needs a second factor/);
});

test('any other error: the sign-in did not complete, try again; the code shown as given', () => {
  expect(notSignedIn(console_, 'login_required')).toMatchObject({ title: 'Sign-in failed', error: 'login_required', retry: { href: '/admin' } });
});

test('a code that is not one is not shown', () => {
  expect(notSignedIn(console_, '<script>x</script>').error).toBe('unknown_error');
});
