export { Revocations, type RevocationCause, type LogoutNotice, type LogoutQueue, type RevocationDeps, type RevocationScope, type RevocationSink } from './revocation.ts';
export {
  openRevocationBus, LocalBus, RedisBus, PostgresBus, REVOCATION_CHANNEL,
  type RevocationBus, type RevocationEvent, type RevocationInitiator, type RevocationKind, type RevocationListener,
} from './bus.ts';
export { LogoutOutbox, LogoutDeliveryWorker, type LogoutDelivery } from './backchannel.ts';
export { OutboxWorker, PermanentDeliveryError, type DeliveryOptions, type OutboxRow, type OutboxSpec } from './outbox-worker.ts';
export {
  StepUpRequirements, requirePersonStepUp, stepUpFromRow, stepUpsFromRows, stepUpQuery, type PersonStepUp, type StepUpRequirement, type StepUpRow,
} from './step-up.ts';
export { SessionActivityLog, type SessionActivity } from './activity.ts';
export { SignInRequirements, type SignInRequirement } from './sign-in-requirement.ts';
