/**
 * Evaluates the risk engine with the shipped policy on seeded synthetic login histories
 * (bench/synthetic-logins.ts): the share of legitimate events challenged, and per attacker type
 * the share stopped (MFA / step-up, or deny / revoke).
 *
 *   npm run eval:risk                                   # seed 1, 1000 users, 180 days
 *   npm run eval:risk -- --seed 2 --users 2000 --days 120 --policy config/risk-policy.json
 *   npm run eval:risk -- --no-devices      # ablation: what is left without device binding
 *   npm run eval:risk -- --svg docs/risk-curve.svg   # where the trade-off chart goes
 *
 * Refreshes are assessed as the server does: the session's binding (device and agent) is taken at
 * its first refresh, and an allowed refresh grows the history only when `shouldRecord` says so.
 * After the tables comes the trade-off curve (bench/risk-curve.ts): per score threshold, the share
 * of legitimate sign-ins challenged and refreshes disrupted against each attacker class stopped.
 *
 * Legitimate events are assessed and then recorded in the account's history (a legitimate user
 * who is challenged passes the challenge). Attacks are assessed against the victim's history at
 * that moment and never recorded, so each attack is judged on its own.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { parseArgs } from 'node:util';
import { assess, decide, emptyHistory, emptyPopulation, eventFromContext, parsePolicy, recordEventInPlace, shouldRecord, type RiskHistory } from '../src/risk/index.ts';
import { CurveTally, curveSvg, curveTable } from './risk-curve.ts';
import { ATTACK_TYPES, generateSyntheticWorld, type SyntheticEvent } from './synthetic-logins.ts';

const { values } = parseArgs({
  options: {
    seed: { type: 'string', default: '1' },
    users: { type: 'string', default: '1000' },
    days: { type: 'string', default: '180' },
    policy: { type: 'string', default: 'config/risk-policy.json' },
    json: { type: 'boolean', default: false },
    examples: { type: 'string', default: '0' },
    /** Show the examples of this legitimate category or attacker class only. */
    'examples-of': { type: 'string' },
    svg: { type: 'string', default: 'bench/results/risk-curve.svg' },
    /** Ablation: nobody presents a device id (no device cookie, no DPoP key). */
    'no-devices': { type: 'boolean', default: false },
  },
});

const seed = Number(values.seed);
const users = Number(values.users);
const days = Number(values.days);
const policyText = readFileSync(values.policy, 'utf8');
const policy = parsePolicy(policyText);
// The same policy without thresholds: what its signal rules stop whatever the score (for the curve).
const rulesOnlyDocument = JSON.parse(policyText);
rulesOnlyDocument.login.thresholds = [];
rulesOnlyDocument.refresh.thresholds = [];
const rulesOnly = parsePolicy(rulesOnlyDocument);
/** The policy's operating point: its lowest threshold that acts. */
const shippedThreshold = Math.min(
  ...[...policy.defaults.login.thresholds, ...policy.defaults.refresh.thresholds].filter((t) => t.decision.action !== 'allow').map((t) => t.minScore),
);

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
const curve = new CurveTally();
/** The server's grant binding, per session: device and agent of its first refresh, and its last refresh. */
const sessions = new Map<string, { deviceId?: string; userAgent?: string; lastRefreshAt?: number; bound: boolean }>();
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
  const ctx = event.context;
  // The rest of an app session whose refresh was refused does not happen: the person signs in again.
  if (event.kind === 'legit' && ctx.type === 'refresh' && ctx.sessionId !== undefined && !sessions.has(ctx.sessionId)) continue;
  if (ctx.type === 'refresh' && ctx.sessionId !== undefined && sessions.has(ctx.sessionId)) {
    const bound = sessions.get(ctx.sessionId)!;
    if (bound.bound) {
      if (bound.deviceId !== undefined) ctx.sessionDeviceId = bound.deviceId;
      if (bound.userAgent !== undefined) ctx.sessionUserAgent = bound.userAgent;
    }
    if (bound.lastRefreshAt !== undefined) ctx.lastRefreshAt = bound.lastRefreshAt;
  }
  const judged = event.failuresFromIp || event.failuresOfAccount
    ? { ...history, failuresByIp: event.failuresFromIp ?? [], failuresByAccount: event.failuresOfAccount ?? history.failuresByAccount }
    : history;
  const assessment = assess(ctx, judged, policy);
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
  const point = { score: assessment.score, ruleStops: decide(rulesOnly, ctx.type, ctx.clientId, assessment.score, assessment.signals).decision.action !== 'allow' };
  const size = history.accountStats.total;
  const sizeBucket = size < 10 ? '<10' : size < 40 ? '10-39' : '≥40';
  if (event.kind === 'legit') {
    bucket(legit, event.category);
    bucket(legit, ctx.type === 'login' ? 'all sign-ins' : 'all refreshes');
    if (ctx.type === 'login') bucket(legit, `sign-ins, history ${sizeBucket}`);
    curve.add(ctx.type === 'login' ? 'legit sign-ins' : 'legit refreshes', point);
    if (ctx.type === 'login') {
      const u = perUser.get(event.accountId) ?? { n: 0, challenged: 0 };
      u.n++;
      if (stopped) u.challenged++;
      perUser.set(event.accountId, u);
      if (ctx.sessionId !== undefined) sessions.set(ctx.sessionId, { bound: false });
    } else if (ctx.sessionId !== undefined) {
      const bound = sessions.get(ctx.sessionId);
      // A refused refresh ends the app session here (a person signs in again: a new session).
      if (bound && stopped) sessions.delete(ctx.sessionId);
      else if (bound) {
        if (!bound.bound) Object.assign(bound, { bound: true, userAgent: ctx.userAgent, ...(ctx.deviceId !== undefined ? { deviceId: ctx.deviceId } : {}) });
        bound.lastRefreshAt = ctx.time;
      }
    }
    const wanted = values['examples-of'];
    if (stopped && examples.length < exampleLimit && (wanted === undefined || wanted === event.category)) {
      examples.push({ event, score: assessment.score, decision: action, signals: assessment.signals.map((s) => `${s.name}=${s.contribution}: ${s.reason}`) });
    }
    const recorded = eventFromContext(ctx, history);
    if (!stopped || ctx.type === 'login') {
      if (shouldRecord(history, recorded, ctx.type)) recordEventInPlace(history, recorded);
    }
  } else {
    bucket(attacks, event.category);
    curve.add(event.category, point);
    bucket(attacksByHistory, `${event.category} ${sizeBucket}`);
    const wanted = values['examples-of'];
    if (!stopped && examples.length < exampleLimit && wanted === event.category) {
      examples.push({ event, score: assessment.score, decision: action, signals: assessment.signals.map((s) => `${s.name}=${s.contribution}: ${s.reason}`) });
    }
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
  const order = [
    'home', 'work', 'mobile', 'travel_domestic', 'travel_abroad', 'new_phone', 'lost_cookie', 'private_window', 'no_cookies', 'vpn', 'corporate_vpn',
    'sign-ins, history <10', 'sign-ins, history 10-39', 'sign-ins, history ≥40', 'all sign-ins',
    'refresh_laptop', 'refresh_phone', 'refresh_phone_hopping', 'all refreshes',
  ];
  for (const key of order) {
    const t = legit.get(key);
    if (!t) continue;
    console.log(`  ${key.padEnd(22)} ${String(t.n).padStart(8)}  ${pct(t.challenged, t.n)}  ${pct(t.hard, t.n)}  ${topSignals(t)}`);
  }
  console.log(`  per person (≥10 sign-ins): median ${(median * 100).toFixed(1)}% of sign-ins challenged, 90th percentile ${(p90 * 100).toFixed(1)}%\n`);
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
  console.log(`\nTrade-off curve: stopped at each score threshold T (signal rules of the policy always apply); shipped T = ${shippedThreshold}`);
  console.log(curveTable(curve, [['legit sign-ins', 'sign-ins'], ['legit refreshes', 'refreshes']], ATTACK_TYPES, shippedThreshold));
  mkdirSync(dirname(values.svg), { recursive: true });
  writeFileSync(values.svg, curveSvg(curve, 'legit sign-ins', ATTACK_TYPES, shippedThreshold, `Risk engine trade-off: seed ${seed}, ${users} people, ${days} days`));
  console.log(`Chart written to ${values.svg}`);
  for (const ex of examples) {
    console.log(`\n${ex.event.category} ${ex.event.accountId} ${new Date(ex.event.context.time).toISOString()} ${ex.event.context.geo?.city} score ${ex.score} → ${ex.decision}`);
    for (const s of ex.signals) console.log(`    ${s}`);
  }
}
