export { ensureFirstPartyClient, firstPartyUrls, type FirstPartyApp } from './app.ts';
export { FirstPartySignIn, type SignInDeps, type SignInRequest } from './sign-in.ts';
export { FirstPartyCookies, type FirstPartySession, type PendingSignIn, type CookieScope } from './session-cookie.ts';
export { FormTokens } from './form-token.ts';
