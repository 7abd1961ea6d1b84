/**
 * In-process latency of the access policy (target: under 0.2 ms p99 added to a refresh).
 *
 *   npm run bench:policy [-- --count 50000]
 *
 * Times one `decide` (a single Cedar authorization with a pre-parsed policy set) and one
 * `tokenVerdict` (what a refresh asks: every scope of the token and every role of the person) with
 * Vigil's schema and the guards of bench/access-policy/, over a mix of 256 contexts: without the
 * memory of decisions (the worst case: every refresh's facts new) and with it (these contexts
 * repeat, as a person's refreshes do).
 */
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { decide, RECEIVE_SCOPE, tokenRequestParts, tokenVerdict, type TokenFacts } from '../src/policy/index.ts';
import { readAccessPolicy } from '../src/verification/index.ts';

const { values } = parseArgs({ options: { count: { type: 'string', default: '50000' } } });
const count = Number(values.count);
const ROOT = join(import.meta.dirname, '..');
const set = readAccessPolicy([join(ROOT, 'bench/access-policy'), join(ROOT, 'config/policy/vigil.cedarschema')]);

const T0 = Date.UTC(2026, 0, 5, 9);
const probes: { facts: TokenFacts; scopes: string[] }[] = [];
for (let i = 0; i < 256; i += 1) {
  probes.push({
    facts: {
      person: { id: `person-${i}`, email: `p${i}@example.com`, emailVerified: true, roles: i % 4 === 0 ? ['admin', 'staff'] : ['staff'] },
      client: { id: `client-${i % 8}`, sensitive: i % 8 === 0, firstParty: false, adminTool: false },
      grantType: 'refresh_token',
      risk: { level: ['low', 'low', 'medium', 'high'][i % 4], score: (i * 7) % 100, signals: i % 3 === 0 ? ['new_country'] : [] },
      device: i % 5 === 0 ? undefined : { id: `d${i}`, compliant: i % 7 !== 0, stale: false },
      acr: i % 2 ? 'urn:vigil:acr:2fa' : 'urn:vigil:acr:phr', amr: ['pwd', 'otp'], networkTags: i % 11 === 0 ? ['anonymizer'] : [],
      time: T0 + i * 600_000,
    },
    scopes: i % 3 === 0 ? ['openid', 'offline_access', 'email', 'profile', 'admin'] : ['openid', 'offline_access', 'email'],
  });
}

function measure(label: string, run: (i: number) => void) {
  for (let i = 0; i < 5000; i += 1) run(i);
  const times = new Float64Array(count);
  for (let i = 0; i < count; i += 1) {
    const t0 = process.hrtime.bigint();
    run(i);
    times[i] = Number(process.hrtime.bigint() - t0) / 1000;
  }
  times.sort();
  const q = (p: number) => times[Math.min(count - 1, Math.floor(p * count))];
  console.log(`${label.padEnd(44)} p50 ${q(0.5).toFixed(1)} µs   p90 ${q(0.9).toFixed(1)} µs   p99 ${q(0.99).toFixed(1)} µs   max ${times[count - 1].toFixed(0)} µs`);
  return q(0.99);
}

let evaluations = 0;
const parts = probes.map((p) => tokenRequestParts(p.facts));
for (const validateRequest of [true, false]) {
  measure(`decide (one authorization, ${validateRequest ? 'validated' : 'trusted'})`, (i) => {
    const { principal, context } = parts[i % parts.length];
    decide(set, { principal, action: RECEIVE_SCOPE, resource: { type: 'Scope', id: 'admin' }, context }, { validateRequest });
  });
}
const shipped = readAccessPolicy([]);
measure('tokenVerdict, the shipped allow-all policy', (i) => {
  const p = probes[i % probes.length];
  tokenVerdict(shipped, p.facts, p.scopes);
});
measure('tokenVerdict, guards, nothing remembered', (i) => {
  const p = probes[i % probes.length];
  evaluations += tokenVerdict(set, p.facts, p.scopes, { remember: false }).evaluations;
});
console.log(`  ${(evaluations / (count + 5000)).toFixed(2)} Cedar authorizations per refresh on average without memory (${set.policies.length} policies)`);
const p99 = measure('tokenVerdict, guards, decisions remembered', (i) => {
  const p = probes[i % probes.length];
  tokenVerdict(set, p.facts, p.scopes);
});
console.log(p99 < 200 ? 'p99 added to a refresh under 0.2 ms: ok' : 'p99 added to a refresh over 0.2 ms: TOO SLOW');
