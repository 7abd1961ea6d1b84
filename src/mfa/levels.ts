import { ACR, acrLevel, type AcrValue } from '../config/index.ts';

/** RFC 8176 authentication method references Vigil uses. */
export type Amr = 'pwd' | 'otp' | 'hwk' | 'swk' | 'user' | 'mfa' | 'fed';

/** A sign-in at an upstream identity provider (federation): one factor, the way a password is, unless the provider is trusted for more. */
export const FEDERATED_AMR = 'fed';

/**
 * The assurance a set of methods gives: WebAuthn with user verification is phishing-resistant;
 * two distinct factors are 2fa; anything else is one factor.
 */
export function acrForAmr(amr: readonly string[]): AcrValue {
  const methods = new Set(amr);
  const webauthn = methods.has('hwk') || methods.has('swk');
  if (webauthn && methods.has('user')) return ACR.phishingResistant;
  const factors = [methods.has('pwd') || methods.has(FEDERATED_AMR), methods.has('otp'), webauthn].filter(Boolean).length;
  return factors >= 2 ? ACR.twoFactor : ACR.oneFactor;
}

/** Methods after adding `added` to what a session already proved; `mfa` when more than one factor. */
export function combineAmr(existing: readonly string[], added: readonly string[]): string[] {
  const all = new Set([...existing.filter((m) => m !== 'mfa'), ...added]);
  const factors = (all.has('pwd') || all.has(FEDERATED_AMR) ? 1 : 0) + (all.has('otp') ? 1 : 0) + ((all.has('hwk') || all.has('swk')) ? 1 : 0) + (all.has('user') ? 1 : 0);
  if (factors >= 2) all.add('mfa');
  return [...all].sort();
}

/** The strongest of the given acr values (unknown values count as nothing). */
export function strongestAcr(values: Iterable<string | undefined>): AcrValue | undefined {
  let best: AcrValue | undefined;
  for (const value of values) {
    if (value && acrLevel(value) > acrLevel(best)) best = value as AcrValue;
  }
  return best;
}

/** The weakest acceptable of a list the client offered (acr_values are alternatives). */
export function weakestKnownAcr(values: Iterable<string>): AcrValue | undefined {
  let weakest: AcrValue | undefined;
  for (const value of values) {
    const level = acrLevel(value);
    if (level >= 0 && (weakest === undefined || level < acrLevel(weakest))) weakest = value as AcrValue;
  }
  return weakest;
}

export function satisfies(have: string | undefined, need: string | undefined): boolean {
  return need === undefined || acrLevel(have) >= acrLevel(need);
}
