export { ensureFirstPartyClient, type FirstPartyApp } from './app.ts';
export { FirstPartySignIn } from './sign-in.ts';
export type { FirstPartySession } from './session-cookie.ts';
export { FormTokens } from './form-token.ts';
