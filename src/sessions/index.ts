export { revokeGrant, revokeAccount, revokeSession, revokeOtherSessions } from './revoke.ts';
export { StepUpRequirements, stepUpFromRow, stepUpQuery, type StepUpRequirement, type StepUpRow } from './step-up.ts';
export { SessionActivityLog, type SessionActivity } from './activity.ts';
