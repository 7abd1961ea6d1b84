export { loadMasterKey, type MasterKeySource } from './master-key.ts';
export { KeyRing, constantTimeEqual, sha256 } from './sealed.ts';
export { linkTokenHash, newLinkToken } from './link-token.ts';
export { randomId } from './random-id.ts';
