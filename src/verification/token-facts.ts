import type { TokenFacts } from '../policy/index.ts';
import type { Assessment, RiskContext, RiskLevel } from '../risk/index.ts';

export interface TokenFactsInput {
  grantType: TokenFacts['grantType'];
  person: TokenFacts['person'];
  client: TokenFacts['client'];
  /** What the continuous check built; undefined with the engine off. */
  context?: RiskContext | undefined;
  /** This request's assessment (a refresh); at a code exchange the account's last level stands in. */
  assessment?: Assessment | undefined;
  riskLevel?: RiskLevel | undefined;
  acr?: string | undefined;
  amr?: readonly string[] | undefined;
  /** Epoch ms, when there is no context to take it from. */
  time: number;
}

/** The access policy's facts of a token request, from what the risk engine saw (live, or replayed). */
export function tokenFacts(input: TokenFactsInput): TokenFacts {
  const { context, assessment } = input;
  const level = assessment?.level ?? input.riskLevel;
  return {
    person: input.person,
    client: input.client,
    grantType: input.grantType,
    risk: level === undefined ? undefined : {
      level,
      score: assessment?.score ?? 0,
      signals: assessment?.signals.filter((s) => s.contribution > 0).map((s) => s.name) ?? [],
    },
    device: context?.deviceId !== undefined && context.devicePosture
      ? { id: context.deviceId, compliant: context.devicePosture.compliant, stale: context.devicePosture.stale }
      : undefined,
    acr: input.acr,
    amr: input.amr,
    networkTags: context?.networkTags,
    time: context?.time ?? input.time,
  };
}
