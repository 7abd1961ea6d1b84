import { ACR } from '../config/index.ts';
import { msg, type Message } from '../i18n/index.ts';
import type { FirstPartyApp } from './app.ts';

/** What the person is told when /auth sent them back to a first-party app with an error instead of a code. */
export interface NotSignedIn {
  title: Message;
  /** What happened, in a sentence. */
  lead: Message;
  /** Where to add the missing factor, when that is what is missing. */
  addFactor?: { href: string; text: Message };
  /** Where a new sign-in starts: the app itself. */
  retry: { href: string; text: Message };
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
  const name = { app: msg(app.label) };
  const retry = { href: app.path, text: msg('firstParty.retry', name) };
  if (error === 'access_denied') {
    return { title: msg('firstParty.cancelledTitle'), lead: msg('firstParty.cancelled', name), retry, error };
  }
  if (error === 'unmet_authentication_requirements') {
    const passkey = app.acr === ACR.phishingResistant;
    return {
      title: msg('firstParty.strongerTitle'),
      lead: msg(passkey ? 'firstParty.strongerPasskey' : 'firstParty.strongerFactor', name),
      addFactor: { href: ACCOUNT_PAGE, text: msg(passkey ? 'firstParty.addPasskey' : 'firstParty.addFactor') }, retry, error,
    };
  }
  return { title: msg('firstParty.failedTitle'), lead: msg('firstParty.incomplete', name), retry, error };
}
