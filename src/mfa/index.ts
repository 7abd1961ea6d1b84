export { acrForAmr, combineAmr, strongestAcr, weakestKnownAcr, satisfies, FEDERATED_AMR, type Amr } from './levels.ts';
export { ChallengeStore, type Challenge } from './challenges.ts';
export { TotpFactors, type TotpEnrolment, type TotpCheck } from './totp.ts';
export { RecoveryCodes, RECOVERY_CODE_COUNT } from './recovery.ts';
export { PASSKEY_FAILURE_MESSAGES, Passkeys, PasskeyError, type Passkey, type PasskeyAssertion, type PasskeyFailure, type RelyingParty } from './webauthn.ts';
