/**
 * The risk policy: data (`config/risk-policy.json`) that turns a score and individual signals
 * into a decision — at login `allow | mfa (acr) | deny`, at refresh `allow | step_up (acr) |
 * revoke` — with a layer for clients marked sensitive and per-client overrides. The strongest
 * decision any matching rule gives wins, so a higher score or one more signal can never weaken
 * the decision.
 */
import { z } from 'zod';
import { ACR, ACR_VALUES, acrLevel } from '../config/acr.ts';
import { DEFAULT_SCORING, SIGNAL_NAMES, type ScoringConfig } from './scoring.ts';
import type { Decision, LoginDecision, RefreshDecision, RiskEventType, RiskLevel, Signal } from './types.ts';

export class RiskPolicyError extends Error {
  override name = 'RiskPolicyError';
}

const acr = z.enum(ACR_VALUES);

const loginDecision = z.discriminatedUnion('action', [
  z.strictObject({ action: z.literal('allow') }),
  z.strictObject({ action: z.literal('mfa'), acr }),
  z.strictObject({ action: z.literal('deny') }),
]);

const refreshDecision = z.discriminatedUnion('action', [
  z.strictObject({ action: z.literal('allow') }),
  z.strictObject({ action: z.literal('step_up'), acr }),
  z.strictObject({ action: z.literal('revoke') }),
]);

const KNOWN_SIGNALS = new Set<string>(SIGNAL_NAMES);
const TAG = /^[a-z0-9][a-z0-9_-]{0,63}$/;

const signalName = z.string().refine(
  (name) => KNOWN_SIGNALS.has(name) || (name.startsWith('network_') && TAG.test(name.slice(8))),
  { message: `unknown signal name (known: ${SIGNAL_NAMES.join(', ')}, network_<tag>)` },
);

const score = z.number().min(0).max(100);

function table<D extends z.ZodType>(decision: D) {
  return z.strictObject({
    thresholds: z.array(z.strictObject({ minScore: score, decision })).default([]),
    signals: z.record(signalName, decision).default({}),
  });
}

function overrideTable<D extends z.ZodType>(decision: D) {
  return z.strictObject({
    /** Replaces the thresholds below it when present. */
    thresholds: z.array(z.strictObject({ minScore: score, decision })).optional(),
    /** Merged over the signal rules below it (same name: this one wins). */
    signals: z.record(signalName, decision).optional(),
  });
}

const points = z.number().min(-100).max(100);
const positive = z.number().positive();
const nonNegative = z.number().min(0);

const failureWindow = z.strictObject({
  windowMinutes: positive,
  steps: z.array(z.strictObject({ atLeast: z.number().int().min(1), points: z.number().min(0).max(100) })),
});

const scoringSchema = z.strictObject({
  travel: z.strictObject({
    impossibleKmh: positive,
    groundKmh: positive,
    flightKmh: positive,
    flightOverheadMinutes: nonNegative,
    preciseAccuracyKm: nonNegative,
    impossiblePoints: nonNegative,
    fastKmh: positive,
    fastPoints: nonNegative,
    minDistanceKm: nonNegative,
    unusualKm: positive,
    unusualBasePoints: nonNegative,
    unusualPointsPerDoubling: nonNegative,
    unusualMaxPoints: nonNegative,
    minHistory: z.number().int().min(0),
    unknownLocationPoints: nonNegative,
    hiddenLocationTags: z.array(z.string().regex(TAG)),
    familiarAfter: z.number().int().min(1),
  }).partial(),
  behaviour: z.strictObject({
    maxPoints: nonNegative,
    offsetBits: z.number(),
    scaleBits: positive,
    priorEvents: nonNegative,
    unseenDivisor: z.number().min(1),
    attackFactorMin: positive,
    attackFactorMax: positive,
    exponents: z.strictObject({ network: nonNegative, agent: nonNegative, device: nonNegative, hour: nonNegative }).partial(),
    newCountryPoints: nonNegative,
    minHistory: z.number().int().min(0),
    travellerCountries: z.number().int().min(1),
  }).partial(),
  device: z.strictObject({
    unknownPoints: nonNegative,
    unknownOnKnownNetworkPoints: nonNegative,
    recentNetworkDays: nonNegative,
    minHistoryForHabits: z.number().int().min(0),
    stableDeviceShare: z.number().min(0).max(1),
    missingPoints: nonNegative,
    sessionDeviceChangedPoints: nonNegative,
    sessionAgentChangedPoints: nonNegative,
    nonCompliantPoints: nonNegative,
    stalePoints: nonNegative,
  }).partial(),
  session: z.strictObject({
    movedPoints: nonNegative,
    mobilePrior: z.number().min(0).max(1),
    desktopPrior: z.number().min(0).max(1),
    priorWeight: positive,
    roughAccuracyKm: nonNegative,
    familiarAfter: z.number().int().min(1),
  }).partial(),
  velocity: z.strictObject({
    accountFailures: z.array(failureWindow),
    ipFailures: z.array(failureWindow),
    rapidRefreshFraction: z.number().min(0).max(1),
    rapidRefreshPoints: nonNegative,
  }).partial(),
  networkTags: z.record(z.string().regex(TAG, 'tags are lower-case letters, digits, _ and -'), points),
}).partial();

const clientOverride = z.strictObject({
  /** Apply the policy's `sensitive` layer to this client. */
  sensitive: z.boolean().default(false),
  login: overrideTable(loginDecision).optional(),
  refresh: overrideTable(refreshDecision).optional(),
});

export const policySchema = z.strictObject({
  version: z.literal(1),
  levels: z.strictObject({ medium: score, high: score })
    .refine((l) => l.medium <= l.high, { message: 'medium must not be above high', path: ['medium'] }),
  login: table(loginDecision),
  refresh: table(refreshDecision),
  sensitive: z.strictObject({ login: overrideTable(loginDecision).optional(), refresh: overrideTable(refreshDecision).optional() }).default({}),
  clients: z.record(z.string().min(1), clientOverride).default({}),
  scoring: scoringSchema.default({}),
});

export type PolicyDocument = z.input<typeof policySchema>;

export interface DecisionTable<D extends Decision> {
  thresholds: { minScore: number; decision: D }[];
  signals: Record<string, D>;
}

export interface ResolvedTables {
  sensitive: boolean;
  login: DecisionTable<LoginDecision>;
  refresh: DecisionTable<RefreshDecision>;
}

export interface RiskPolicy {
  levels: { medium: number; high: number };
  scoring: ScoringConfig;
  /** Tables for clients the policy does not name. */
  defaults: ResolvedTables;
  /** Tables for each named client, with the sensitive layer and its overrides applied. */
  clients: Map<string, ResolvedTables>;
}

type Override<D extends Decision> = { thresholds?: { minScore: number; decision: D }[] | undefined; signals?: Record<string, D> | undefined } | undefined;

function layer<D extends Decision>(base: DecisionTable<D>, override: Override<D>): DecisionTable<D> {
  if (!override) return base;
  return {
    thresholds: override.thresholds ?? base.thresholds,
    signals: { ...base.signals, ...(override.signals ?? {}) },
  };
}

function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const key of path) {
    if (typeof key === 'number') out += `[${key}]`;
    else out += out === '' ? String(key) : `.${String(key)}`;
  }
  return out === '' ? '(top level)' : out;
}

/**
 * Validates a policy (a parsed JSON value or JSON text) and resolves it: scoring overrides merged
 * over the defaults, per-client tables precomputed. Throws `RiskPolicyError` naming the bad path.
 */
export function parsePolicy(input: unknown): RiskPolicy {
  let json = input;
  if (typeof input === 'string') {
    try {
      json = JSON.parse(input);
    } catch (err) {
      throw new RiskPolicyError(`risk policy: not valid JSON (${(err as Error).message})`);
    }
  }
  const result = policySchema.safeParse(json);
  if (!result.success) {
    const issue = result.error.issues[0];
    const more = result.error.issues.length > 1 ? ` (and ${result.error.issues.length - 1} more)` : '';
    // A bad record key (an unknown signal name) carries the key's own complaint inside.
    const inner = issue.code === 'invalid_key' ? issue.issues.map((i) => i.message).join('; ') : '';
    throw new RiskPolicyError(`risk policy: ${formatPath(issue.path)}: ${issue.message}${inner ? ` (${inner})` : ''}${more}`);
  }
  const doc = result.data;
  const s = doc.scoring;
  const scoring: ScoringConfig = {
    travel: { ...DEFAULT_SCORING.travel, ...s.travel },
    behaviour: {
      ...DEFAULT_SCORING.behaviour,
      ...s.behaviour,
      exponents: { ...DEFAULT_SCORING.behaviour.exponents, ...s.behaviour?.exponents },
    },
    device: { ...DEFAULT_SCORING.device, ...s.device },
    session: { ...DEFAULT_SCORING.session, ...s.session },
    velocity: { ...DEFAULT_SCORING.velocity, ...s.velocity },
    networkTags: s.networkTags ?? DEFAULT_SCORING.networkTags,
  };
  if (scoring.behaviour.attackFactorMin > scoring.behaviour.attackFactorMax) {
    throw new RiskPolicyError('risk policy: scoring.behaviour.attackFactorMin: must not be above attackFactorMax');
  }
  const defaults: ResolvedTables = { sensitive: false, login: doc.login, refresh: doc.refresh };
  const clients = new Map<string, ResolvedTables>();
  for (const [clientId, override] of Object.entries(doc.clients)) {
    let login = defaults.login;
    let refresh = defaults.refresh;
    if (override.sensitive) {
      login = layer(login, doc.sensitive.login);
      refresh = layer(refresh, doc.sensitive.refresh);
    }
    clients.set(clientId, { sensitive: override.sensitive, login: layer(login, override.login), refresh: layer(refresh, override.refresh) });
  }
  return { levels: doc.levels, scoring, defaults, clients };
}

export function tablesFor(policy: RiskPolicy, clientId: string): ResolvedTables {
  return policy.clients.get(clientId) ?? policy.defaults;
}

/** allow 0 < mfa/step_up 1 + acr level < deny/revoke 10. */
export function decisionStrength(decision: Decision): number {
  switch (decision.action) {
    case 'allow':
      return 0;
    case 'mfa':
    case 'step_up':
      return 1 + Math.max(0, acrLevel(decision.acr));
    case 'deny':
    case 'revoke':
      return 10;
  }
}

export function levelFor(policy: RiskPolicy, score: number): RiskLevel {
  return score >= policy.levels.high ? 'high' : score >= policy.levels.medium ? 'medium' : 'low';
}

/**
 * The strongest decision of every rule that matches: thresholds at or below the score, and
 * rules for signals present in the assessment. `rules` names the rules behind the decision.
 */
export function decide(policy: RiskPolicy, type: RiskEventType, clientId: string, scoreValue: number, signals: readonly Signal[]): { decision: Decision; rules: string[] } {
  const tables = tablesFor(policy, clientId);
  const tableOf: DecisionTable<Decision> = type === 'login' ? tables.login : tables.refresh;
  let decision: Decision = { action: 'allow' };
  let strength = 0;
  let rules: string[] = [];
  const consider = (candidate: Decision, rule: string) => {
    const s = decisionStrength(candidate);
    if (s > strength) {
      decision = candidate;
      strength = s;
      rules = [rule];
    } else if (s === strength && s > 0) {
      rules.push(rule);
    }
  };
  for (const t of tableOf.thresholds) {
    if (scoreValue >= t.minScore) consider(t.decision, `score ${scoreValue} ≥ ${t.minScore}`);
  }
  for (const signal of signals) {
    if (Object.hasOwn(tableOf.signals, signal.name)) consider(tableOf.signals[signal.name], `signal ${signal.name}`);
  }
  return { decision, rules };
}

/** The policy shipped in `config/risk-policy.json` (a unit test keeps the two identical). */
export const DEFAULT_POLICY_DOCUMENT = {
  version: 1,
  levels: { medium: 30, high: 60 },
  login: {
    thresholds: [
      { minScore: 30, decision: { action: 'mfa', acr: ACR.twoFactor } },
      { minScore: 60, decision: { action: 'mfa', acr: ACR.phishingResistant } },
      { minScore: 90, decision: { action: 'deny' } },
    ],
    signals: {
      impossible_travel: { action: 'mfa', acr: ACR.phishingResistant },
      new_country: { action: 'mfa', acr: ACR.twoFactor },
      device_noncompliant: { action: 'mfa', acr: ACR.phishingResistant },
      network_known_bad: { action: 'deny' },
    },
  },
  refresh: {
    thresholds: [
      { minScore: 30, decision: { action: 'step_up', acr: ACR.twoFactor } },
      { minScore: 60, decision: { action: 'step_up', acr: ACR.phishingResistant } },
      { minScore: 85, decision: { action: 'revoke' } },
    ],
    signals: {
      impossible_travel: { action: 'revoke' },
      session_device_changed: { action: 'revoke' },
      new_country: { action: 'step_up', acr: ACR.twoFactor },
      device_noncompliant: { action: 'step_up', acr: ACR.phishingResistant },
      network_known_bad: { action: 'revoke' },
    },
  },
  sensitive: {
    login: { signals: { device_noncompliant: { action: 'deny' } } },
    refresh: { signals: { device_noncompliant: { action: 'revoke' } } },
  },
  clients: {
    'admin-console': {
      sensitive: true,
      login: {
        thresholds: [
          { minScore: 20, decision: { action: 'mfa', acr: ACR.twoFactor } },
          { minScore: 45, decision: { action: 'mfa', acr: ACR.phishingResistant } },
          { minScore: 80, decision: { action: 'deny' } },
        ],
      },
      refresh: {
        thresholds: [
          { minScore: 20, decision: { action: 'step_up', acr: ACR.twoFactor } },
          { minScore: 45, decision: { action: 'step_up', acr: ACR.phishingResistant } },
          { minScore: 70, decision: { action: 'revoke' } },
        ],
      },
    },
  },
  scoring: {
    networkTags: { anonymizer: 25, known_bad: 60, corporate: -20 },
  },
} satisfies PolicyDocument;

export const DEFAULT_POLICY: RiskPolicy = parsePolicy(DEFAULT_POLICY_DOCUMENT);
