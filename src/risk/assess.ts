/**
 * `assess(context, history, policy?)`: runs every signal, adds up their points (capped to
 * 0–100), picks the level and asks the policy for a decision. Pure and deterministic: the same
 * context, history and policy always give the same assessment. Because the score is a capped
 * sum, evidence that adds points can never lower it.
 */
import { behaviourSignals } from './behaviour.ts';
import { deviceSignals } from './device.ts';
import { geoVelocitySignals } from './geo-velocity.ts';
import { networkSignals } from './network.ts';
import { sessionSignals } from './session.ts';
import { DEFAULT_POLICY, decide, levelFor, type RiskPolicy } from './policy.ts';
import type { Assessment, RiskContext, RiskHistory, Signal } from './types.ts';
import { parseUserAgent } from './ua.ts';
import { velocitySignals } from './velocity.ts';

/** All signals for a context, in a stable order: location, behaviour, device, session, velocity, network. */
export function collectSignals(context: RiskContext, history: RiskHistory, policy: RiskPolicy = DEFAULT_POLICY): Signal[] {
  const ctx = context.ua ? context : { ...context, ua: parseUserAgent(context.userAgent) };
  const scoring = policy.scoring;
  return [
    ...geoVelocitySignals(ctx, history, scoring.travel),
    ...behaviourSignals(ctx, history, scoring.behaviour),
    ...deviceSignals(ctx, history, scoring.device),
    ...sessionSignals(ctx, history, scoring.session),
    ...velocitySignals(ctx, history, scoring.velocity),
    ...networkSignals(ctx, scoring.networkTags),
  ];
}

/** The capped sum of contributions, rounded to a whole number: monotone in every contribution. */
export function combineScore(signals: readonly Signal[]): number {
  let sum = 0;
  for (const signal of signals) sum += signal.contribution;
  return Math.max(0, Math.min(100, Math.round(sum)));
}

export function assess(context: RiskContext, history: RiskHistory, policy: RiskPolicy = DEFAULT_POLICY): Assessment {
  const signals = collectSignals(context, history, policy);
  const score = combineScore(signals);
  const { decision, rules } = decide(policy, context.type, context.clientId, score, signals);
  return { score, level: levelFor(policy, score), decision, rules, signals };
}
