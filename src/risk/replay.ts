/**
 * The pure core of `vigil risk replay`: validates JSON lines of recorded (or synthetic) events,
 * feeds them in time order through `assess` while building each account's history as it goes,
 * and returns one result per event plus a summary. Geo and network-list look-ups are passed in,
 * so the same events replay identically anywhere. See docs/risk.md for the formats.
 */
import { z } from 'zod';
import { assess } from './assess.ts';
import { DEFAULT_LIMITS, addFailure, emptyHistory, emptyPopulation, eventFromContext, recordEventInPlace, shouldRecord, type HistoryLimits } from './history.ts';
import { parseIp } from './ip.ts';
import { DEFAULT_POLICY, type RiskPolicy } from './policy.ts';
import type { Assessment, Decision, DevicePosture, GeoLocation, RiskContext, RiskHistory, RiskLevel, Signal } from './types.ts';

/** A posture report as a device or MDM sends it (fields the devices module defines). */
const postureReport = z.object({
  os: z.string().optional(),
  osVersion: z.string().optional(),
  diskEncryption: z.boolean().optional(),
  firewall: z.boolean().optional(),
  screenLock: z.boolean().optional(),
  edrRunning: z.boolean().optional(),
  jailbroken: z.boolean().optional(),
  reportedAt: z.iso.datetime({ offset: true }).optional(),
});

/** A posture already evaluated by the devices module. */
const evaluatedPosture = z.object({
  compliant: z.boolean(),
  stale: z.boolean().default(false),
  reasons: z.array(z.string()).default([]),
});

export type PostureReport = z.infer<typeof postureReport>;

export const replayEventSchema = z.object({
  type: z.enum(['login', 'refresh']),
  time: z.iso.datetime({ offset: true }),
  account: z.string().min(1),
  session: z.string().min(1).optional(),
  client: z.string().min(1),
  ip: z.string().refine((ip) => parseIp(ip) !== undefined, { message: 'not an IPv4 or IPv6 address' }),
  userAgent: z.string(),
  device: z.string().min(1).optional(),
  posture: z.union([evaluatedPosture, postureReport]).optional(),
  outcome: z.enum(['success', 'failure']).optional(),
  /** What the token asked for and the person held, for replaying an access policy (`--access-policy`). */
  scope: z.string().optional(),
  roles: z.array(z.string()).optional(),
  email: z.string().optional(),
  acr: z.string().optional(),
  amr: z.array(z.string()).optional(),
}).superRefine((event, ctx) => {
  if (event.type === 'refresh' && event.outcome !== undefined) {
    ctx.addIssue({ code: 'custom', path: ['outcome'], message: 'only logins have an outcome' });
  }
  if (event.type === 'refresh' && event.session === undefined) {
    ctx.addIssue({ code: 'custom', path: ['session'], message: 'a refresh needs the session it belongs to' });
  }
});

export type ReplayEvent = z.infer<typeof replayEventSchema>;

export interface ReplayLineError {
  line: number;
  message: string;
}

export interface ParsedLines {
  events: { line: number; event: ReplayEvent }[];
  errors: ReplayLineError[];
}

function issuePath(path: readonly PropertyKey[]): string {
  return path.length === 0 ? '' : `${path.map(String).join('.')}: `;
}

/** Validates JSONL text (or its lines); blank lines are skipped, line numbers start at 1. */
export function parseReplayLines(input: string | readonly string[]): ParsedLines {
  const lines = typeof input === 'string' ? input.split(/\r?\n/) : input;
  const events: ParsedLines['events'] = [];
  const errors: ReplayLineError[] = [];
  lines.forEach((text, index) => {
    const line = index + 1;
    if (text.trim() === '') return;
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch (err) {
      errors.push({ line, message: `not valid JSON (${(err as Error).message})` });
      return;
    }
    const result = replayEventSchema.safeParse(json);
    if (!result.success) {
      errors.push({ line, message: result.error.issues.map((i) => `${issuePath(i.path)}${i.message}`).join('; ') });
      return;
    }
    events.push({ line, event: result.data });
  });
  return { events, errors };
}

/**
 * Default evaluation of a raw posture report: a check reported as failing (disk not encrypted,
 * firewall off, no screen lock, EDR not running, jailbroken) makes the device non-compliant;
 * a check not reported is not judged. A report older than `maxAgeMs` at the event is stale.
 */
export function evaluatePostureReport(report: PostureReport, time: number, maxAgeMs = 24 * 3600_000): DevicePosture {
  const reasons: string[] = [];
  if (report.diskEncryption === false) reasons.push('disk not encrypted');
  if (report.firewall === false) reasons.push('firewall off');
  if (report.screenLock === false) reasons.push('no screen lock');
  if (report.edrRunning === false) reasons.push('EDR not running');
  if (report.jailbroken === true) reasons.push('jailbroken or rooted');
  const stale = report.reportedAt !== undefined && time - Date.parse(report.reportedAt) > maxAgeMs;
  return { compliant: reasons.length === 0, stale, reasons };
}

export interface ReplayOptions {
  /** Resolves an address to a place (geoip-lite in the CLI, a table in tests). */
  geoLookup: (ip: string) => GeoLocation | undefined;
  /** Tags of the operator's CIDR lists containing the address. */
  networkTags?: (ip: string) => string[];
  policy?: RiskPolicy;
  /** Access token lifetime used to judge refresh rates (default: Vigil's 300 s). */
  accessTokenTtlSeconds?: number;
  /** Turns a raw posture report into a posture (default: `evaluatePostureReport`). */
  evaluatePosture?: (report: PostureReport, time: number) => DevicePosture;
  limits?: HistoryLimits;
  /** More to say about each event (what an access policy would decide, say), merged into its result. */
  annotate?: (event: ReplayEvent, context: RiskContext, assessment: Assessment) => Record<string, unknown>;
}

export interface ReplayResult {
  line: number;
  type: 'login' | 'refresh';
  time: string;
  account: string;
  session?: string;
  client: string;
  ip: string;
  score: number;
  level: RiskLevel;
  decision: Decision;
  rules: string[];
  signals: Signal[];
}

export interface ReplaySummary {
  events: number;
  badLines: number;
  /** Decisions counted by event type and action. */
  decisions: {
    login: { allow: number; mfa: number; deny: number };
    refresh: { allow: number; step_up: number; revoke: number };
  };
}

export interface ReplayOutput {
  results: ReplayResult[];
  errors: ReplayLineError[];
  summary: ReplaySummary;
}

interface SessionState {
  deviceId?: string;
  userAgent: string;
  lastRefreshAt?: number;
}

/**
 * Replays events in time order (ties keep input order). History grows as it goes: a login with
 * outcome `failure` counts as a failed login for the account and the address; a login that
 * succeeded (outcome `success` or absent) and was not denied, and a refresh that was allowed
 * (when `shouldRecord` says it adds something), become successful events. The first login of a session fixes the device and user agent its
 * refreshes are compared with (a refresh of a session not seen before starts it).
 */
export function replay(input: string | readonly string[] | ParsedLines, options: ReplayOptions): ReplayOutput {
  const parsed = typeof input === 'string' || Array.isArray(input) ? parseReplayLines(input as string | readonly string[]) : (input as ParsedLines);
  const policy = options.policy ?? DEFAULT_POLICY;
  const limits = options.limits ?? DEFAULT_LIMITS;
  const ttl = options.accessTokenTtlSeconds ?? 300;
  const evaluate = options.evaluatePosture ?? ((report: PostureReport, time: number) => evaluatePostureReport(report, time));
  const population = emptyPopulation();
  const accounts = new Map<string, RiskHistory>();
  const ipFailures = new Map<string, number[]>();
  const sessions = new Map<string, SessionState>();
  const summary: ReplaySummary = {
    events: 0,
    badLines: parsed.errors.length,
    decisions: { login: { allow: 0, mfa: 0, deny: 0 }, refresh: { allow: 0, step_up: 0, revoke: 0 } },
  };

  const ordered = parsed.events
    .map((entry) => ({ ...entry, at: Date.parse(entry.event.time) }))
    .sort((a, b) => a.at - b.at || a.line - b.line);

  const results: ReplayResult[] = [];
  for (const { line, event, at } of ordered) {
    let account = accounts.get(event.account);
    if (!account) {
      account = emptyHistory(population);
      accounts.set(event.account, account);
    }
    const sessionKey = event.session === undefined ? undefined : `${event.account}\u0000${event.session}`;
    const session = sessionKey === undefined ? undefined : sessions.get(sessionKey);

    let posture: DevicePosture | undefined;
    if (event.posture) {
      posture = 'compliant' in event.posture ? (event.posture as DevicePosture) : evaluate(event.posture as PostureReport, at);
    }
    const geo = options.geoLookup(event.ip);
    const tags = options.networkTags?.(event.ip);
    const ctx: RiskContext = { type: event.type, time: at, accountId: event.account, clientId: event.client, ip: event.ip, userAgent: event.userAgent, geo };
    if (event.session !== undefined) ctx.sessionId = event.session;
    if (event.device !== undefined) ctx.deviceId = event.device;
    if (posture) ctx.devicePosture = posture;
    if (event.outcome !== undefined) ctx.outcome = event.outcome;
    if (tags && tags.length > 0) ctx.networkTags = tags;
    if (event.type === 'refresh' && session) {
      if (session.deviceId !== undefined) ctx.sessionDeviceId = session.deviceId;
      ctx.sessionUserAgent = session.userAgent;
      if (session.lastRefreshAt !== undefined) ctx.lastRefreshAt = session.lastRefreshAt;
      ctx.accessTokenTtlSeconds = ttl;
    }

    const history: RiskHistory = { ...account, failuresByIp: ipFailures.get(event.ip) ?? [] };
    const assessment = assess(ctx, history, policy);
    summary.events += 1;
    if (event.type === 'login') {
      const counts = summary.decisions.login;
      counts[assessment.decision.action as keyof typeof counts] += 1;
    } else {
      const counts = summary.decisions.refresh;
      counts[assessment.decision.action as keyof typeof counts] += 1;
    }
    const result: ReplayResult = {
      line,
      type: event.type,
      time: event.time,
      account: event.account,
      ...(event.session !== undefined ? { session: event.session } : {}),
      client: event.client,
      ip: event.ip,
      score: assessment.score,
      level: assessment.level,
      decision: assessment.decision,
      rules: assessment.rules,
      signals: assessment.signals,
      ...options.annotate?.(event, ctx, assessment),
    };
    results.push(result);

    // Grow the history with what happened.
    if (event.type === 'login' && event.outcome === 'failure') {
      account.failuresByAccount = addFailure(account.failuresByAccount, at, limits);
      ipFailures.set(event.ip, addFailure(ipFailures.get(event.ip) ?? [], at, limits));
      continue;
    }
    const good = event.type === 'login' ? assessment.decision.action !== 'deny' : assessment.decision.action === 'allow';
    if (good) {
      const recorded = eventFromContext(ctx, account);
      if (shouldRecord(account, recorded, event.type)) recordEventInPlace(account, recorded, limits);
    }
    if (sessionKey !== undefined) {
      if (event.type === 'login' || !session) {
        const state: SessionState = { userAgent: event.userAgent };
        if (event.device !== undefined) state.deviceId = event.device;
        if (event.type === 'refresh') state.lastRefreshAt = at;
        sessions.set(sessionKey, state);
      } else {
        session.lastRefreshAt = at;
      }
    }
  }
  return { results, errors: parsed.errors, summary };
}
