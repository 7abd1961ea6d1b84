import { decide, type PolicyDecision, type RequestEntity } from './decide.ts';
import type { PolicySet } from './load.ts';
import type { AttributeValue } from './values.ts';
import { project } from './reads.ts';

/**
 * Vigil's token vocabulary (config/policy/vigil.cedarschema): which scopes and roles a token may carry, for
 * which person and client, in which context. Pure: the caller gathers the facts.
 */
export interface TokenFacts {
  readonly person: { readonly id: string; readonly email: string; readonly emailVerified: boolean; readonly roles: readonly string[] };
  readonly client: { readonly id: string; readonly sensitive: boolean; readonly firstParty: boolean; readonly adminTool: boolean };
  readonly grantType: 'authorization_code' | 'refresh_token';
  /** Undefined when the risk engine did not assess the request. */
  readonly risk?: { readonly level: string; readonly score: number; readonly signals: readonly string[] } | undefined;
  /** The person's registered device that proved itself, with its posture. */
  readonly device?: { readonly id: string; readonly compliant: boolean; readonly stale: boolean } | undefined;
  readonly acr?: string | undefined;
  readonly amr?: readonly string[] | undefined;
  readonly networkTags?: readonly string[] | undefined;
  /** Epoch milliseconds. */
  readonly time: number;
}

export interface Withheld {
  /** The scope or role. */
  readonly name: string;
  readonly determining: readonly string[];
  readonly errors: readonly string[];
}

export interface TokenVerdict {
  readonly scopes: readonly string[];
  readonly roles: readonly string[];
  readonly withheldScopes: readonly Withheld[];
  readonly withheldRoles: readonly Withheld[];
  /** The policies that determined what was given (the permits of the scopes and roles kept). */
  readonly allowedBy: readonly string[];
  /** The policies marked `@refuse` among those that withheld a scope: the token request is refused, not narrowed. */
  readonly refusedBy: readonly string[];
  /** Refuse the token request: a `@refuse` policy withheld a scope, or none of the scopes asked for is left. */
  readonly refused: boolean;
  /** How many times the engine was asked (scopes and roles no policy names share one decision; decisions are remembered by what the policies read). */
  readonly evaluations: number;
}

const DAY_MS = 86_400_000;

export const RECEIVE_SCOPE = { type: 'Action', id: 'receive_scope' } as const;
export const RECEIVE_ROLE = { type: 'Action', id: 'receive_role' } as const;

/** The Person entity, with their roles as parents, and the context every token decision shares. */
export function tokenRequestParts(facts: TokenFacts): { principal: RequestEntity; context: Readonly<Record<string, AttributeValue>> } {
  const day = Math.floor(facts.time / DAY_MS);
  const principal: RequestEntity = {
    type: 'Person', id: facts.person.id,
    attrs: { email: facts.person.email, email_verified: facts.person.emailVerified, roles: [...facts.person.roles] },
    parents: facts.person.roles.map((id) => ({ type: 'Role', id })),
  };
  const context: Record<string, AttributeValue> = {
    grant_type: facts.grantType,
    client: { id: facts.client.id, sensitive: facts.client.sensitive, first_party: facts.client.firstParty, admin_tool: facts.client.adminTool },
    risk: facts.risk
      ? { assessed: true, level: facts.risk.level, score: Math.round(facts.risk.score), signals: [...facts.risk.signals] }
      : { assessed: false, level: 'unassessed', score: 0, signals: [] },
    device: facts.device
      ? { registered: true, id: facts.device.id, compliant: facts.device.compliant, stale: facts.device.stale }
      : { registered: false, id: '', compliant: false, stale: false },
    acr: facts.acr ?? '',
    amr: [...(facts.amr ?? [])],
    network_tags: [...(facts.networkTags ?? [])],
    // 1970-01-01 was a Thursday (4).
    time: { hour: Math.floor((facts.time - day * DAY_MS) / 3_600_000), weekday: (((day + 4) % 7) + 7) % 7, epoch: Math.floor(facts.time / 1000) },
  };
  return { principal, context };
}

/** Decisions remembered per policy set, by what the policies read of the request (exact: Cedar is deterministic). */
const remembered = new WeakMap<PolicySet, Map<string, PolicyDecision>>();
const REMEMBER_AT_MOST = 10_000;

/** The request as the policies see it: only the attributes they read, and the key it is remembered by. */
function readParts(set: PolicySet, facts: TokenFacts) {
  const parts = tokenRequestParts(facts);
  const principal = { ...parts.principal, attrs: project(parts.principal.attrs, set.reads.principal) };
  const context = project(parts.context, set.reads.context);
  const namesPerson = [...set.named].some((n) => n.startsWith('Person::'));
  const key = JSON.stringify([namesPerson ? principal.id : '', principal.attrs, principal.parents?.map((p) => p.id), context]);
  return { principal, context, key };
}

/** Asks the policy about each scope asked for and each role the person holds. */
export function tokenVerdict(set: PolicySet, facts: TokenFacts, scopes: readonly string[], options: { remember?: boolean } = {}): TokenVerdict {
  const { principal, context, key } = readParts(set, facts);
  let memory = options.remember === false ? new Map<string, PolicyDecision>() : remembered.get(set);
  if (!memory) remembered.set(set, memory = new Map());
  if (memory.size >= REMEMBER_AT_MOST) memory.clear();
  let evaluations = 0;
  const ask = (action: typeof RECEIVE_SCOPE | typeof RECEIVE_ROLE, type: 'Scope' | 'Role') => {
    const permits = set.unconditional.get(`Action::${action.id}`);
    if (permits) {
      const allowed: PolicyDecision = { decision: 'allow', determining: permits, errors: [] };
      return () => allowed;
    }
    // Entities of one type no policy names, without attributes or parents of their own, are alike to the policy.
    let unnamed: PolicyDecision | undefined;
    return (name: string): PolicyDecision => {
      const isNamed = set.named.has(`${type}::${name}`);
      if (!isNamed && unnamed) return unnamed;
      const memoryKey = `${action.id} ${isNamed ? name : ''} ${key}`;
      const known = memory.get(memoryKey);
      if (known) {
        if (!isNamed) unnamed = known;
        return known;
      }
      evaluations += 1;
      // The context is built here to the schema (checked once at load by checkTokenSchema): read without it.
      const answer = decide(set, { principal, action, resource: { type, id: name }, context }, { validateRequest: false });
      // A policy that errs does not apply in Cedar; a forbid that errs must not let a scope through.
      const decision: PolicyDecision = answer.errors.length > 0 ? { ...answer, decision: 'deny' } : answer;
      if (!isNamed) unnamed = decision;
      memory.set(memoryKey, decision);
      return decision;
    };
  };
  const allowedBy = new Set<string>();
  const split = (names: readonly string[], decideOne: (name: string) => PolicyDecision) => {
    const kept: string[] = [];
    const withheld: Withheld[] = [];
    for (const name of names) {
      const d = decideOne(name);
      if (d.decision === 'allow') {
        kept.push(name);
        for (const id of d.determining) allowedBy.add(id);
      } else withheld.push({ name, determining: d.determining, errors: d.errors });
    }
    return { kept, withheld };
  };
  const scopeSplit = split(scopes, ask(RECEIVE_SCOPE, 'Scope'));
  const roleSplit = split(facts.person.roles, ask(RECEIVE_ROLE, 'Role'));
  const refusing = new Set(set.policies.filter((p) => p.effect === 'forbid' && 'refuse' in p.annotations).map((p) => p.id));
  const refusedBy = [...new Set(scopeSplit.withheld.flatMap((w) => w.determining.filter((id) => refusing.has(id))))];
  const refused = refusedBy.length > 0 || (scopes.length > 0 && scopeSplit.kept.length === 0);
  return {
    scopes: scopeSplit.kept, roles: roleSplit.kept, withheldScopes: scopeSplit.withheld, withheldRoles: roleSplit.withheld,
    allowedBy: [...allowedBy], refusedBy, refused, evaluations,
  };
}

/**
 * Problems of a schema that does not describe Vigil's token requests (the context the token endpoint builds):
 * with it, a policy could name attributes Vigil never gives. Empty when it fits.
 */
export function checkTokenSchema(set: PolicySet): string[] {
  const { principal, context } = tokenRequestParts({
    person: { id: 'check', email: 'check@example.com', emailVerified: true, roles: ['check'] },
    client: { id: 'check', sensitive: false, firstParty: false, adminTool: false },
    grantType: 'refresh_token', risk: { level: 'low', score: 0, signals: ['check'] }, device: { id: 'check', compliant: true, stale: false },
    acr: 'check', amr: ['check'], networkTags: ['check'], time: 0,
  });
  const problems: string[] = [];
  for (const [action, type] of [[RECEIVE_SCOPE, 'Scope'], [RECEIVE_ROLE, 'Role']] as const) {
    const answer = decide(set, { principal, action, resource: { type, id: 'check' }, context });
    if (answer.determining.length === 0 && answer.errors.length > 0) problems.push(`${action.id}: ${answer.errors.join('; ')}`);
  }
  return problems;
}
