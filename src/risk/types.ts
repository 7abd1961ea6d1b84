/**
 * Types of the risk engine. Everything here is plain data: the engine takes a context and a
 * history, and returns an assessment; the caller (HTTP login, refresh hook, replay) does the I/O.
 */
import type { AcrValue } from '../config/acr.ts';

export type RiskEventType = 'login' | 'refresh';

/** Where an IP address is, as resolved by the caller (geoip-lite or a replay table). */
export interface GeoLocation {
  /** ISO 3166-1 alpha-2 country code. */
  country: string;
  /** Region / subdivision code within the country (e.g. `ENG`, `CA`). */
  region?: string;
  city?: string;
  lat: number;
  lon: number;
  /** Radius of the area the address may be anywhere in, in kilometres. */
  accuracyKm: number;
}

export type DeviceType = 'desktop' | 'mobile' | 'tablet' | 'bot' | 'unknown';

/** A user agent reduced to what the engine compares (see `ua.ts`). */
export interface ParsedUserAgent {
  /** Browser family: `Chrome`, `Safari`, `Firefox`, `Edge`, … or `Other`. */
  browser: string;
  browserMajor?: number;
  /** Operating system family: `Windows`, `macOS`, `iOS`, `Android`, `Linux`, … or `Other`. */
  os: string;
  osMajor?: number;
  deviceType: DeviceType;
}

/** Device posture as evaluated by the devices module (or replay). */
export interface DevicePosture {
  compliant: boolean;
  /** The last report is older than the configured freshness. */
  stale: boolean;
  /** Why it is not compliant (e.g. `disk not encrypted`). */
  reasons: string[];
}

/** One login or refresh to assess. Everything is resolved by the caller; time is epoch ms. */
export interface RiskContext {
  type: RiskEventType;
  /** Epoch milliseconds. The engine never reads the clock. */
  time: number;
  accountId: string;
  sessionId?: string;
  clientId: string;
  ip: string;
  /** Location of `ip`; undefined when unknown (private range, no record). */
  geo?: GeoLocation | undefined;
  userAgent: string;
  /** Parsed `userAgent`; parsed by the engine when absent. */
  ua?: ParsedUserAgent;
  /** Registered device (DPoP key) or Vigil's signed device cookie. */
  deviceId?: string;
  devicePosture?: DevicePosture;
  /** Logins only: whether the credentials were right. */
  outcome?: 'success' | 'failure';
  /** Refresh: the device the session started on. */
  sessionDeviceId?: string;
  /** Refresh: the user agent the session started with. */
  sessionUserAgent?: string;
  /** Refresh: epoch ms of the previous refresh of this session's grant. */
  lastRefreshAt?: number;
  /** Refresh: lifetime of the access tokens the client gets, in seconds. */
  accessTokenTtlSeconds?: number;
  /** Tags of operator CIDR lists containing `ip` (e.g. `anonymizer`, `known_bad`, `corporate`). */
  networkTags?: string[];
  /**
   * False when the request is not the person's (a confidential client refreshing from its own
   * servers without forwarding the user's address and agent): location, network, per-address and
   * user-agent signals are skipped.
   */
  ipIsUser?: boolean;
}

/** A successful event of an account, reduced to the features the engine compares. */
export interface HistoryEvent {
  time: number;
  /** `/24` (IPv4) or `/48` (IPv6) prefix of the address, e.g. `203.0.113.0/24`. */
  ipPrefix: string;
  country?: string;
  region?: string;
  city?: string;
  lat?: number;
  lon?: number;
  accuracyKm?: number;
  browser: string;
  os: string;
  deviceType: DeviceType;
  deviceId?: string;
  /** Operator list tags of the address (an anonymiser's location is not the person's). */
  networkTags?: string[];
  /** Hour of day (0–23) in the account's usual time zone. */
  hour: number;
  /** The session the event belongs to, when known (refreshes): where a session was last seen. */
  sessionId?: string;
}

/**
 * The features of the behaviour model. `agent` is browser family + OS family (the top of the
 * user-agent hierarchy), `daypart` a 6-hour block of `hour`, `region` is qualified by country.
 */
export const FEATURES = ['ip', 'region', 'country', 'agent', 'browser', 'os', 'deviceType', 'device', 'hour', 'daypart'] as const;
export type Feature = (typeof FEATURES)[number];

/** Value counts per feature over a number of events. */
export interface FeatureStats {
  /** Number of events counted. */
  total: number;
  counts: Record<Feature, Map<string, number>>;
}

/** Counts across all accounts (the population the account is compared with). */
export interface PopulationStats extends FeatureStats {
  /** Number of distinct accounts with at least one counted event. */
  accounts: number;
}

/**
 * What the engine knows about the account and the address before this event. Built by the
 * caller (from the store) or by folding events with `recordEvent` (replay, tests).
 */
export interface RiskHistory {
  /** Recent successful events of the account, oldest first (bounded). */
  accountEvents: HistoryEvent[];
  /** Feature value counts over the account's successful events (bounded). */
  accountStats: FeatureStats;
  /** Feature value counts over everyone's successful events. Shared between accounts. */
  populationStats: PopulationStats;
  /** Epoch ms of recent failed logins of this account (bounded, oldest first). */
  failuresByAccount: number[];
  /** Epoch ms of recent failed logins from this IP address (bounded, oldest first). */
  failuresByIp: number[];
  /** The account's most recent successful event. */
  lastGoodEvent?: HistoryEvent;
  /** Offset of the account's usual time zone from UTC, in minutes (learned from its first located event). */
  timezoneOffsetMinutes?: number;
}

/** One piece of evidence and the points it adds (negative: it lowers the score). */
export interface Signal {
  name: string;
  /** Points added to the score (0–100 scale); negative for evidence that lowers risk. */
  contribution: number;
  /** A sentence a person can read: "Sydney 11 min after London: 2,600 km/h". */
  reason: string;
}

export type RiskLevel = 'low' | 'medium' | 'high';

export type LoginDecision =
  | { action: 'allow' }
  | { action: 'mfa'; acr: AcrValue }
  | { action: 'deny' };

export type RefreshDecision =
  | { action: 'allow' }
  | { action: 'step_up'; acr: AcrValue }
  | { action: 'revoke' };

export type Decision = LoginDecision | RefreshDecision;

export interface Assessment {
  /** 0–100, higher is riskier. */
  score: number;
  level: RiskLevel;
  decision: Decision;
  /** The policy rules that produced the decision (empty when allowed by default). */
  rules: string[];
  signals: Signal[];
}
