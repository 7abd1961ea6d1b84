export { EVENT, EVENTS_SUPPORTED, EVENTS_RECEIVED, PUSH_METHOD, POLL_METHOD, subjectSchema, userSubject, caepClaims,
  credentialChange, passkeyCredentialType, assuranceLevelChange, deviceComplianceChange, riskLevelChange, tokenClaimsChange, accountDisabled, breakGlassUsed, ACR_NAMESPACE,
  type CaepCredentialType, type Initiator, type SecurityEvent, type SecurityEventSink, type Subject } from './events.ts';
export { SSF_SCOPE, SSF_RESOURCE_OWNER, ssfResource, ensureSsfResourceServer, authenticateReceiver } from './auth.ts';
export { transmitterMetadata, ssfPaths } from './metadata.ts';
export { StreamStore, StreamLimitError, MAX_STREAMS_PER_CLIENT, deliveredOf, type Stream, type StreamSettings, type StreamStatus } from './streams.ts';
export { SecurityEventOutbox, type EventDelivery } from './outbox.ts';
export { SetSigner } from './signer.ts';
export { PushDeliveryWorker } from './push.ts';
export { pollEvents, pollRequestSchema, type LongPoll, type PollRequest, type PollResponse } from './poll.ts';
export { HeldPolls, HELD_POLLS_PER_STREAM, TooManyHeldPolls } from './held-polls.ts';
export { ssfRoutes, MIN_VERIFICATION_INTERVAL, type SsfRoutesDeps } from './routes.ts';
export { loadTransmitters, type TrustedTransmitter } from './transmitters.ts';
export { TransmitterKeys, TransmitterKeyError } from './transmitter-keys.ts';
export { verifySet, peekSet, ReceivedJtis, SetRejection, SetUnverifiable, CLOCK_SKEW_SECONDS, type ReceivedSet, type SetErrorCode } from './receiver.ts';
export { planEvents, ReceivedEventApplier, type ApplyDeps, type EventOutcome } from './apply.ts';
export { receiveRoutes, RECEIVE_PATH, type ReceiveRoutesDeps } from './receive-routes.ts';
