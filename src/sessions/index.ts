export { revokeGrant } from './revoke.ts';
