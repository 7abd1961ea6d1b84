/**
 * In-process latency of one risk assessment (target: p99 under 1 ms).
 *
 *   npm run bench:risk                       # 100,000 assessments
 *   npm run bench:risk -- --count 200000 --users 2000
 *
 * Histories and the population table come from the synthetic generator (full 50-event account
 * histories, tens of thousands of population values), then a mix of legitimate and attack
 * contexts is assessed against them, each call timed with the high-resolution clock.
 */
import { parseArgs } from 'node:util';
import { assess, emptyHistory, emptyPopulation, eventFromContext, recordEventInPlace, type RiskContext, type RiskHistory } from '../src/risk/index.ts';
import { generateSyntheticWorld } from './synthetic-logins.ts';

const { values } = parseArgs({
  options: {
    count: { type: 'string', default: '100000' },
    users: { type: 'string', default: '1000' },
    days: { type: 'string', default: '120' },
    seed: { type: 'string', default: '7' },
  },
});
const count = Number(values.count);

const { events } = generateSyntheticWorld({ seed: Number(values.seed), users: Number(values.users), days: Number(values.days) });
const population = emptyPopulation();
const histories = new Map<string, RiskHistory>();
const probes: { ctx: RiskContext; history: RiskHistory }[] = [];
for (const event of events) {
  let history = histories.get(event.accountId);
  if (!history) {
    history = emptyHistory(population);
    histories.set(event.accountId, history);
  }
  if (event.kind === 'legit') recordEventInPlace(history, eventFromContext(event.context, history));
  probes.push({ ctx: event.context, history });
}
// Assess every probe against the account's final (fullest) history, with a little refresh traffic mixed in.
for (let i = 0; i < probes.length; i += 10) {
  const { ctx } = probes[i];
  probes[i] = {
    ...probes[i],
    ctx: { ...ctx, type: 'refresh', sessionId: 's', sessionDeviceId: ctx.deviceId ?? 'dev-x', sessionUserAgent: ctx.userAgent, lastRefreshAt: ctx.time - 200_000, accessTokenTtlSeconds: 300 },
  };
}

let sink = 0;
for (let i = 0; i < 20_000; i++) {
  const p = probes[i % probes.length];
  sink += assess(p.ctx, p.history).score;
}

const times = new Float64Array(count);
const started = process.hrtime.bigint();
for (let i = 0; i < count; i++) {
  const p = probes[(i * 7919) % probes.length];
  const t0 = process.hrtime.bigint();
  sink += assess(p.ctx, p.history).score;
  times[i] = Number(process.hrtime.bigint() - t0) / 1000;
}
const totalMs = Number(process.hrtime.bigint() - started) / 1e6;
times.sort();
const q = (p: number) => times[Math.min(count - 1, Math.floor(p * count))];
console.log(`${count} assessments over ${histories.size} accounts (population: ${population.total} events, ${population.counts.ip.size} /24s), ${totalMs.toFixed(0)} ms total`);
console.log(`p50 ${q(0.5).toFixed(1)} µs   p90 ${q(0.9).toFixed(1)} µs   p99 ${q(0.99).toFixed(1)} µs   p99.9 ${q(0.999).toFixed(1)} µs   max ${times[count - 1].toFixed(0)} µs`);
console.log(q(0.99) < 1000 ? 'p99 under 1 ms: ok' : 'p99 over 1 ms: TOO SLOW');
if (sink < 0) console.log(sink);
