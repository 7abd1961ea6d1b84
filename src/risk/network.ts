/**
 * Network lists: tags of the operator's CIDR lists that contain the address (resolved by the
 * caller). Each tag carries points from the policy: anonymisers and known-bad ranges raise the
 * score, corporate ranges lower it. Tags without points are ignored.
 */
import { DEFAULT_SCORING } from './scoring.ts';
import type { RiskContext, Signal } from './types.ts';

const DESCRIPTIONS: Record<string, string> = {
  anonymizer: "the operator's anonymiser list (VPN, proxy or Tor exit)",
  known_bad: "the operator's known-bad list",
  corporate: "the operator's corporate network list",
};

export function networkSignals(ctx: RiskContext, tagPoints: Readonly<Record<string, number>> = DEFAULT_SCORING.networkTags): Signal[] {
  if (ctx.ipIsUser === false || !ctx.networkTags || ctx.networkTags.length === 0) return [];
  const signals: Signal[] = [];
  const seen = new Set<string>();
  for (const tag of ctx.networkTags) {
    if (seen.has(tag) || !Object.hasOwn(tagPoints, tag)) continue;
    seen.add(tag);
    const points = tagPoints[tag];
    if (points === 0) continue;
    const list = Object.hasOwn(DESCRIPTIONS, tag) ? DESCRIPTIONS[tag] : `the operator's "${tag}" list`;
    signals.push({
      name: `network_${tag}`,
      contribution: points,
      reason: `Address ${ctx.ip} is on ${list}${points < 0 ? ', which lowers the risk' : ''}`,
    });
  }
  return signals;
}
