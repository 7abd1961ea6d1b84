export { ensureFirstPartyClient, type FirstPartyApp } from './app.ts';
export { FirstPartySignIn, type SignedIn } from './sign-in.ts';
export type { FirstPartySession } from './session-cookie.ts';
export { FormTokens } from './form-token.ts';
