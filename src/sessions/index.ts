export { revokeGrant, revokeAccount, revokeSession, revokeOtherSessions } from './revoke.ts';
export { StepUpRequirements, type StepUpRequirement } from './step-up.ts';
export { SessionActivityLog, type SessionActivity } from './activity.ts';
