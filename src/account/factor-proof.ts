import { ACR, acrLevel } from '../config/index.ts';

/** An account's sign-in methods as the account page reads them. */
export interface AccountFactors {
  totp: boolean;
  passkeys: readonly unknown[];
  /** Unused recovery codes. */
  recoveryLeft: number;
}

/**
 * Whether the account has a second factor: an authenticator app, a passkey, or unused recovery
 * codes. Recovery codes count on their own because they pass a 2fa sign-in on their own (the
 * factor page offers them whenever some are left): a stolen password must not be able to add a
 * factor beside them.
 */
export function hasSecondFactor(factors: AccountFactors): boolean {
  return factors.totp || factors.passkeys.length > 0 || factors.recoveryLeft > 0;
}

/** What a sign-in must have shown before it changes sign-in methods. */
export const FACTOR_CHANGE_ACR = ACR.twoFactor;

/**
 * What a signed-in session still has to prove before it may add, remove or replace a sign-in
 * method: `ok`; `sign-in-again` when its sign-in is older than `reauthSeconds`; `second-factor`
 * when it is recent but weaker than `FACTOR_CHANGE_ACR` while the account has a second factor.
 * An account without one may change factors on a recent password alone (the change is announced).
 */
export type FactorChangeProof = 'ok' | 'sign-in-again' | 'second-factor';

export function factorChangeProof(
  session: { authTime: number; acr: string },
  secondFactor: boolean,
  reauthSeconds: number,
  now = Date.now() / 1000,
): FactorChangeProof {
  if (now - session.authTime > reauthSeconds) return 'sign-in-again';
  if (secondFactor && acrLevel(session.acr) < acrLevel(FACTOR_CHANGE_ACR)) return 'second-factor';
  return 'ok';
}
