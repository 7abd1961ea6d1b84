import { readFileSync } from 'node:fs';
import { parsePolicy, replay, RiskPolicyError, tablesFor, DEFAULT_POLICY, type ReplayEvent, type RiskPolicy } from '../risk/index.ts';
import { tokenVerdict, type PolicySet, type TokenVerdict } from '../policy/index.ts';
import { readTokenAccessPolicy, tokenFacts } from '../verification/index.ts';
import { lookupGeo } from '../geo/index.ts';
import { parse, required, UsageError } from './args.ts';
import { accessPolicyFrom } from './policy.ts';

/**
 * `vigil risk replay --input events.jsonl [--policy FILE] [--access-policy PATH]...`: what a policy would have
 * decided on recorded or synthetic events. Prints one JSON line per event, then a summary line; needs no
 * database. The input format is in docs/risk.md. With --access-policy, each event also says which scopes and
 * roles the proposed access policy would give, and whether that changes from the one in force
 * (VIGIL_ACCESS_POLICY); see docs/policy.md.
 */
export function riskReplay(argv: string[], write: (line: string) => void): number {
  const a = parse(argv, { input: { type: 'string' }, policy: { type: 'string' }, 'access-policy': { type: 'string', multiple: true } });
  const input = required(a.input, '--input');
  let text: string;
  try {
    text = readFileSync(input, 'utf8');
  } catch (err) {
    throw new UsageError(`--input ${input}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (err as Error).message}`);
  }
  let policy: RiskPolicy | undefined;
  if (a.policy) {
    try {
      policy = parsePolicy(readFileSync(a.policy, 'utf8'));
    } catch (err) {
      if (err instanceof RiskPolicyError || (err as NodeJS.ErrnoException).code) throw new UsageError(`--policy ${a.policy}: ${(err as Error).message}`);
      throw err;
    }
  }
  const access = a['access-policy'] ? accessComparison(accessPolicyFrom(a['access-policy'], '--access-policy', readTokenAccessPolicy), policy ?? DEFAULT_POLICY) : undefined;
  const output = replay(text, { geoLookup: lookupGeo, policy, ...(access ? { annotate: access.annotate } : {}) });
  for (const error of output.errors) process.stderr.write(`vigil: ${input}:${error.line}: ${error.message}\n`);
  for (const result of output.results) {
    write(JSON.stringify(result));
  }
  write(JSON.stringify({ summary: { ...output.summary, ...(access ? { access: access.summary } : {}) } }));
  return output.errors.length > 0 ? 1 : 0;
}

interface AccessOutcome {
  scopes: readonly string[];
  roles: readonly string[];
  refused: boolean;
  determining: readonly string[];
}

function outcomeOf(verdict: TokenVerdict | undefined, scopes: readonly string[], roles: readonly string[]): AccessOutcome {
  if (!verdict) return { scopes, roles, refused: false, determining: [] };
  const determining = [...new Set([...verdict.withheldScopes, ...verdict.withheldRoles].flatMap((w) => w.determining))];
  return { scopes: verdict.scopes, roles: verdict.roles, refused: verdict.refused, determining };
}

/** Each event under the access policy in force and under the proposed one, and a count of what changes. */
function accessComparison(proposed: PolicySet, risk: RiskPolicy) {
  let current: PolicySet | undefined;
  try {
    current = accessPolicyFrom(undefined, '--access-policy', readTokenAccessPolicy);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    // VIGIL_ACCESS_POLICY=off: today every consented scope and role is given.
  }
  const summary = { changed: 0, narrowed: 0, widened: 0, refused: 0, unrefused: 0 };
  const annotate: NonNullable<Parameters<typeof replay>[1]['annotate']> = (event: ReplayEvent, context, assessment) => {
    const scopes = (event.scope ?? 'openid').split(' ').filter(Boolean);
    const roles = event.roles ?? [];
    const facts = tokenFacts({
      grantType: event.type === 'login' ? 'authorization_code' : 'refresh_token',
      person: { id: event.account, email: event.email ?? '', emailVerified: event.email !== undefined, roles },
      client: { id: event.client, sensitive: tablesFor(risk, event.client).sensitive, firstParty: false, adminTool: false },
      context, assessment, acr: event.acr, amr: event.amr, time: context.time,
    });
    const before = outcomeOf(current && tokenVerdict(current, facts, scopes), scopes, roles);
    const after = outcomeOf(tokenVerdict(proposed, facts, scopes), scopes, roles);
    const same = (x: readonly string[], y: readonly string[]) => x.join(' ') === y.join(' ');
    const changed = before.refused !== after.refused || !same(before.scopes, after.scopes) || !same(before.roles, after.roles);
    if (changed) {
      summary.changed += 1;
      if (after.refused && !before.refused) summary.refused += 1;
      else if (before.refused && !after.refused) summary.unrefused += 1;
      else if (after.scopes.length + after.roles.length < before.scopes.length + before.roles.length) summary.narrowed += 1;
      else summary.widened += 1;
    }
    return { access: { changed, before, after } };
  };
  return { annotate, summary };
}
