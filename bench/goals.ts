import type { Measurement } from './measurement.ts';

/** What the issue asks of Vigil; each checked only when its scenarios ran. */
export interface Goal { name: string; want: string; got: string; met: boolean }

export interface GoalInputs {
  refreshOn?: Measurement;
  refreshOff?: Measurement;
  refreshBaseline?: Measurement;
  /** The engine-on server's refreshes refused (each would be a chain cut short). */
  refreshRefusedOn?: number;
  introspection?: { vigil: Measurement; baseline: Measurement };
  clientCredentials?: { vigil: Measurement; baseline: Measurement };
  /** RSS (MB) of the engine-on server after each of the two refresh runs. */
  rssAfterRuns?: [number, number];
}

export const LIMITS = {
  refreshVsBaseline: 0.5,
  refreshP99VsBaseline: 2,
  introspectionVsBaseline: 0.6,
  clientCredentialsVsBaseline: 0.6,
  engineOnVsOff: 0.85,
  rssMb: 300,
  rssGrowth: 0.1,
} as const;

const x = (n: number) => `${n.toFixed(2)}×`;

export function evaluateGoals(i: GoalInputs): Goal[] {
  const goals: Goal[] = [];
  if (i.refreshOn && i.refreshBaseline) {
    const ratio = i.refreshOn.rps / i.refreshBaseline.rps;
    goals.push({ name: 'refresh (rotation + risk engine) throughput vs baseline', want: `≥ ${x(LIMITS.refreshVsBaseline)}`, got: `${x(ratio)} (${Math.round(i.refreshOn.rps)} vs ${Math.round(i.refreshBaseline.rps)} req/s)`, met: ratio >= LIMITS.refreshVsBaseline });
    const p99 = i.refreshOn.p99 / Math.max(1, i.refreshBaseline.p99);
    goals.push({ name: 'refresh p99 vs baseline', want: `≤ ${x(LIMITS.refreshP99VsBaseline)}`, got: `${x(p99)} (${i.refreshOn.p99} vs ${i.refreshBaseline.p99} ms)`, met: p99 <= LIMITS.refreshP99VsBaseline });
  }
  for (const [name, pair, limit] of [['introspection', i.introspection, LIMITS.introspectionVsBaseline], ['client_credentials', i.clientCredentials, LIMITS.clientCredentialsVsBaseline]] as const) {
    if (!pair) continue;
    const ratio = pair.vigil.rps / pair.baseline.rps;
    goals.push({ name: `${name} throughput vs baseline`, want: `≥ ${x(limit)}`, got: `${x(ratio)} (${Math.round(pair.vigil.rps)} vs ${Math.round(pair.baseline.rps)} req/s)`, met: ratio >= limit && pair.vigil.non2xx === 0 && pair.vigil.errors === 0 });
  }
  if (i.refreshOn && i.refreshOff) {
    const ratio = i.refreshOn.rps / i.refreshOff.rps;
    const refused = i.refreshRefusedOn ?? 0;
    goals.push({ name: 'refresh, risk engine on vs off', want: `≥ ${x(LIMITS.engineOnVsOff)}, none refused`, got: `${x(ratio)}, ${refused} refused`, met: ratio >= LIMITS.engineOnVsOff && refused === 0 && i.refreshOn.non2xx === 0 });
  }
  if (i.rssAfterRuns) {
    const [first, second] = i.rssAfterRuns;
    goals.push({ name: 'server RSS at the end of the refresh runs', want: `< ${LIMITS.rssMb} MB`, got: `${second} MB`, met: second < LIMITS.rssMb });
    goals.push({ name: 'no RSS growth from refresh run 1 to run 2', want: `≤ +${LIMITS.rssGrowth * 100}%`, got: `${first} → ${second} MB (${second >= first ? '+' : ''}${Math.round(((second - first) / first) * 100)}%)`, met: second <= first * (1 + LIMITS.rssGrowth) });
  }
  return goals;
}

export function printGoals(goals: Goal[]): void {
  if (!goals.length) return;
  console.log('\nTargets:');
  for (const g of goals) console.log(`  ${g.met ? 'MET    ' : 'MISSED '} ${g.name}: want ${g.want}, got ${g.got}`);
}
