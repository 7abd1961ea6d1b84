export { EVENT, EVENTS_SUPPORTED, EVENTS_RECEIVED, PUSH_METHOD, POLL_METHOD, subjectSchema, userSubject, caepClaims,
  credentialChange, assuranceLevelChange, deviceComplianceChange, ACR_NAMESPACE, type SecurityEvent, type SecurityEventSink, type Subject } from './events.ts';
export { SSF_SCOPE, SSF_RESOURCE_OWNER, ssfResource, ensureSsfResourceServer, authenticateReceiver } from './auth.ts';
export { transmitterMetadata, ssfPaths } from './metadata.ts';
export { StreamStore, StreamExistsError, deliveredOf, type Stream, type StreamSettings, type StreamStatus } from './streams.ts';
export { SecurityEventOutbox, type EventDelivery } from './outbox.ts';
export { SetSigner } from './signer.ts';
export { PushDeliveryWorker } from './push.ts';
export { pollEvents, pollRequestSchema, type PollRequest, type PollResponse } from './poll.ts';
export { ssfRoutes, MIN_VERIFICATION_INTERVAL, type SsfRoutesDeps } from './routes.ts';
