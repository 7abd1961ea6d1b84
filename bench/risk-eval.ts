/**
 * Evaluates the risk engine with the shipped policy on seeded synthetic login histories
 * (bench/synthetic-logins.ts): the share of legitimate events challenged, and per attacker type
 * the share stopped (MFA / step-up, or deny / revoke).
 *
 *   npm run eval:risk                                   # seed 1, 1000 users, 180 days
 *   npm run eval:risk -- --seed 2 --users 2000 --days 120 --policy config/risk-policy.json
 *   npm run eval:risk -- --no-devices      # ablation: what is left without device binding
 *
 * Legitimate events are assessed and then recorded in the account's history (a legitimate user
 * who is challenged passes the challenge). Attacks are assessed against the victim's history at
 * that moment and never recorded, so each attack is judged on its own.
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { assess, emptyHistory, emptyPopulation, eventFromContext, parsePolicy, recordEventInPlace, type RiskHistory } from '../src/risk/index.ts';
import { ATTACK_TYPES, generateSyntheticWorld, type SyntheticEvent } from './synthetic-logins.ts';

const { values } = parseArgs({
  options: {
    seed: { type: 'string', default: '1' },
    users: { type: 'string', default: '1000' },
    days: { type: 'string', default: '180' },
    policy: { type: 'string', default: 'config/risk-policy.json' },
    json: { type: 'boolean', default: false },
    examples: { type: 'string', default: '0' },
    /** Ablation: nobody presents a device id (no device cookie, no DPoP key). */
    'no-devices': { type: 'boolean', default: false },
  },
});

const seed = Number(values.seed);
const users = Number(values.users);
const days = Number(values.days);
const policy = parsePolicy(readFileSync(values.policy, 'utf8'));

interface Tally {
  n: number;
  challenged: number;
  hard: number;
  signals: Map<string, number>;
}

const tally = (): Tally => ({ n: 0, challenged: 0, hard: 0, signals: new Map() });
const legit = new Map<string, Tally>();
const attacks = new Map<string, Tally>();
const attacksByHistory = new Map<string, Tally>();
const perUser = new Map<string, { n: number; challenged: number }>();
const examples: { event: SyntheticEvent; score: number; decision: string; signals: string[] }[] = [];
const exampleLimit = Number(values.examples);

const started = performance.now();
const { events } = generateSyntheticWorld({ seed, users, days });
if (values['no-devices']) {
  for (const event of events) {
    delete event.context.deviceId;
    delete event.context.sessionDeviceId;
  }
}
const generatedMs = performance.now() - started;

const population = emptyPopulation();
const histories = new Map<string, RiskHistory>();
let assessed = 0;
const assessStarted = performance.now();
for (const event of events) {
  let history = histories.get(event.accountId);
  if (!history) {
    history = emptyHistory(population);
    histories.set(event.accountId, history);
  }
  const assessment = assess(event.context, history, policy);
  assessed++;
  const action = assessment.decision.action;
  const stopped = action !== 'allow';
  const hard = action === 'deny' || action === 'revoke';
  const bucket = (map: Map<string, Tally>, key: string) => {
    let t = map.get(key);
    if (!t) map.set(key, (t = tally()));
    t.n++;
    if (stopped) t.challenged++;
    if (hard) t.hard++;
    if (stopped) for (const s of assessment.signals) if (s.contribution > 0) t.signals.set(s.name, (t.signals.get(s.name) ?? 0) + 1);
  };
  if (event.kind === 'legit') {
    bucket(legit, event.category);
    bucket(legit, 'all');
    const u = perUser.get(event.accountId) ?? { n: 0, challenged: 0 };
    u.n++;
    if (stopped) u.challenged++;
    perUser.set(event.accountId, u);
    if (stopped && examples.length < exampleLimit) {
      examples.push({ event, score: assessment.score, decision: action, signals: assessment.signals.map((s) => `${s.name}=${s.contribution}: ${s.reason}`) });
    }
    recordEventInPlace(history, eventFromContext(event.context, history));
  } else {
    bucket(attacks, event.category);
    const size = history.accountStats.total;
    bucket(attacksByHistory, `${event.category} ${size < 10 ? '<10' : size < 40 ? '10-39' : '≥40'}`);
  }
}
const assessMs = performance.now() - assessStarted;

const pct = (a: number, b: number) => (b === 0 ? '   -  ' : `${((100 * a) / b).toFixed(2).padStart(6)}%`);
const topSignals = (t: Tally) => [...t.signals.entries()].sort((a, b) => b[1] - a[1]).slice(0, 4).map(([name, c]) => `${name} ${Math.round((100 * c) / Math.max(1, t.challenged))}%`).join(', ');

if (values.json) {
  const obj = (m: Map<string, Tally>) => Object.fromEntries([...m].map(([k, t]) => [k, { n: t.n, stopped: t.challenged / t.n, hard: t.hard / t.n }]));
  console.log(JSON.stringify({ seed, users, days, legit: obj(legit), attacks: obj(attacks), attacksByHistory: obj(attacksByHistory) }, null, 2));
} else {
  const rates = [...perUser.values()].filter((u) => u.n >= 10).map((u) => u.challenged / u.n).sort((a, b) => a - b);
  const median = rates.length ? rates[Math.floor(rates.length / 2)] : 0;
  const p90 = rates.length ? rates[Math.floor(rates.length * 0.9)] : 0;
  console.log(`Risk engine evaluation: seed ${seed}, ${users} users, ${days} days, policy ${values.policy}${values['no-devices'] ? ', WITHOUT device ids (ablation)' : ''}`);
  console.log(`${events.length} events generated in ${(generatedMs / 1000).toFixed(1)} s, ${assessed} assessments in ${(assessMs / 1000).toFixed(1)} s (${((assessMs * 1000) / assessed).toFixed(1)} µs each, history building included)\n`);
  console.log('Legitimate events          events  challenged  denied  why (share of challenged)');
  const order = ['home', 'work', 'mobile', 'travel_domestic', 'travel_abroad', 'new_phone', 'lost_cookie', 'private_window', 'no_cookies', 'vpn', 'all'];
  for (const key of order) {
    const t = legit.get(key);
    if (!t) continue;
    console.log(`  ${key.padEnd(22)} ${String(t.n).padStart(8)}  ${pct(t.challenged, t.n)}  ${pct(t.hard, t.n)}  ${topSignals(t)}`);
  }
  console.log(`  per user (≥10 events): median ${(median * 100).toFixed(1)}% challenged, 90th percentile ${(p90 * 100).toFixed(1)}%\n`);
  console.log('Attackers                  attacks   stopped  deny/revoke  why (share of stopped)');
  for (const key of ATTACK_TYPES) {
    const t = attacks.get(key);
    if (!t) continue;
    console.log(`  ${key.padEnd(22)} ${String(t.n).padStart(8)}  ${pct(t.challenged, t.n)}  ${pct(t.hard, t.n)}  ${topSignals(t)}`);
  }
  console.log('\nStopped by victim history size (successful events before the attack)');
  for (const key of ATTACK_TYPES) {
    const parts = ['<10', '10-39', '≥40'].map((b) => {
      const t = attacksByHistory.get(`${key} ${b}`);
      return t ? `${b}: ${pct(t.challenged, t.n).trim()} of ${t.n}` : `${b}: -`;
    });
    console.log(`  ${key.padEnd(22)} ${parts.join('   ')}`);
  }
  for (const ex of examples) {
    console.log(`\n${ex.event.category} ${ex.event.accountId} ${new Date(ex.event.context.time).toISOString()} ${ex.event.context.geo?.city} score ${ex.score} → ${ex.decision}`);
    for (const s of ex.signals) console.log(`    ${s}`);
  }
}
