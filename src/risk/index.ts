/**
 * The risk engine: pure functions from a context and a history to an explained assessment.
 * No I/O, no clock: callers resolve geo, network lists, device posture and history, and pass
 * the time in the context.
 */
export type {
  Assessment, Decision, DevicePosture, DeviceType, Feature, FeatureStats, GeoLocation, HistoryEvent, LoginDecision,
  ParsedUserAgent, PopulationStats, RefreshDecision, RiskContext, RiskEventType, RiskHistory, RiskLevel, Signal,
} from './types.ts';
export { FEATURES } from './types.ts';
export { assess, collectSignals, combineScore } from './assess.ts';
export {
  DEFAULT_POLICY, DEFAULT_POLICY_DOCUMENT, RiskPolicyError, decide, decisionStrength, levelFor, parsePolicy, policySchema, tablesFor,
  type DecisionTable, type PolicyDocument, type ResolvedTables, type RiskPolicy,
} from './policy.ts';
export { DEFAULT_SCORING, SIGNAL_NAMES, formatDuration, formatInt, type FailureWindow, type ScoringConfig, type SignalName } from './scoring.ts';
export {
  DEFAULT_LIMITS, accountTimezone, addFailure, countInPopulation, emptyHistory, emptyPopulation, emptyStats, eventFromContext, featureValues, lastSessionEvent, localHour,
  recordAccountEvent, recordEvent, recordEventInPlace, recordFailure, shouldRecord, statsFromJson, statsToJson, timezoneOffsetFromLongitude,
  type FeatureStatsJson, type FeatureValues, type HistoryLimits,
} from './history.ts';
export { doorToDoorMs, geoVelocitySignals, haversineKm, previousLocatedEvent, travelBetween, unusualDistancePoints, type LocatedPoint, type Travel } from './geo-velocity.ts';
export { HIERARCHIES, behaviourScore, behaviourSignals, ratioToPoints, smoothedLikelihood, type BehaviourScore, type Hierarchy } from './behaviour.ts';
export { agentChanged, deviceSignals, loginDeviations, stableDevices } from './device.ts';
export { sessionMoves, sessionSignals } from './session.ts';
export { countSince, failurePoints, velocitySignals } from './velocity.ts';
export { networkSignals } from './network.ts';
export { describeUserAgent, parseUserAgent } from './ua.ts';
export { cidrContains, compileNetworkLists, ipPrefix, isPrivateOrReserved, parseCidr, parseIp, type Cidr, type ParsedIp } from './ip.ts';
export {
  evaluatePostureReport, parseReplayLines, replay, replayEventSchema,
  type ParsedLines, type PostureReport, type ReplayEvent, type ReplayLineError, type ReplayOptions, type ReplayOutput, type ReplayResult, type ReplaySummary,
} from './replay.ts';
