import { ACR } from '../config/index.ts';
import type { FirstPartyApp } from './app.ts';

/** What the person is told when /auth sent them back to a first-party app with an error instead of a code. */
export interface NotSignedIn {
  title: string;
  /** What happened, in a sentence. */
  lead: string;
  /** Where to add the missing factor, when that is what is missing. */
  addFactor?: { href: string; text: string };
  /** Where a new sign-in starts: the app itself. */
  retry: { href: string; text: string };
  error: string;
}

/** The account page, where a person adds a passkey or an authenticator app. */
const ACCOUNT_PAGE = '/account';

/** An error code as RFC 6749 §4.1.2.1 spells them; anything else is not shown. */
const ERROR_CODE = /^[a-z_]{1,64}$/;

/**
 * The page for an authorization error, by its code (RFC 6749 §4.1.2.1). The texts are fixed: the
 * error_description is not shown, and the code only when it looks like one.
 */
export function notSignedIn(app: FirstPartyApp, code: string): NotSignedIn {
  const error = ERROR_CODE.test(code) ? code : 'unknown_error';
  const retry = { href: app.path, text: `Open ${app.label} again` };
  if (error === 'access_denied') {
    return { title: 'Sign-in cancelled', lead: `The sign-in was cancelled (or refused), so ${app.label} was not opened.`, retry, error };
  }
  if (error === 'unmet_authentication_requirements') {
    const factor = app.acr === ACR.phishingResistant ? 'a passkey or security key' : 'a second factor';
    return {
      title: 'A stronger sign-in is needed',
      lead: `Opening ${app.label} needs ${factor}, and this account has none yet. Add one on your account page, then open ${app.label} again.`,
      addFactor: { href: ACCOUNT_PAGE, text: `Add ${factor} on your account page` }, retry, error,
    };
  }
  return { title: 'Sign-in failed', lead: `The sign-in did not complete, so ${app.label} was not opened. Try again.`, retry, error };
}
