import type * as Cedar from '@cedar-policy/cedar-wasm/nodejs';
import { cedar } from './engine.ts';
import type { PolicySet } from './load.ts';
import { toCedarRecord, type AttributeValue } from './values.ts';

export interface EntityRef {
  readonly type: string;
  readonly id: string;
}

/** An entity of the request: its attributes and the entities it is a member of (`principal in Group::"x"`). */
export interface RequestEntity extends EntityRef {
  readonly attrs?: Readonly<Record<string, AttributeValue>>;
  readonly parents?: readonly EntityRef[];
}

export interface DecisionRequest {
  readonly principal: RequestEntity;
  readonly action: EntityRef;
  readonly resource: RequestEntity;
  readonly context?: Readonly<Record<string, AttributeValue>>;
  /** Further entities the policies may reach (groups, the parents named above, …). */
  readonly entities?: readonly RequestEntity[];
}

export interface PolicyDecision {
  readonly decision: 'allow' | 'deny';
  /** The ids of the policies that determined the decision: the satisfied permits for allow, the satisfied forbids for deny. */
  readonly determining: readonly string[];
  readonly errors: readonly string[];
}

export interface DecideOptions {
  /**
   * Check the request's entities and context against the schema before evaluating. On by default: without it a
   * context missing an attribute makes a `forbid` error out, and an erroring policy does not apply. Off, the
   * request is trusted to fit the schema (built by code against it) and is read without it, which halves the
   * cost: entity references and extension values must then be written with `__entity` / `__extn`.
   */
  readonly validateRequest?: boolean;
}

/**
 * Evaluate one request against a loaded set. Synchronous and pure; default deny. A request that does not fit
 * the schema is denied with its errors.
 */
export function decide(set: PolicySet, request: DecisionRequest, options: DecideOptions = {}): PolicyDecision {
  let call: Cedar.StatefulAuthorizationCall;
  try {
    call = {
      principal: ref(request.principal),
      action: ref(request.action),
      resource: ref(request.resource),
      context: toCedarRecord(request.context ?? {}),
      entities: entitiesOf(request),
      preparsedPolicySetId: set.key,
      ...(options.validateRequest === false ? { validateRequest: false } : { preparsedSchemaName: set.schemaName, validateRequest: true }),
    };
  } catch (err) {
    return { decision: 'deny', determining: [], errors: [(err as Error).message] };
  }
  const answer = cedar().statefulIsAuthorized(call);
  if (answer.type === 'failure') return { decision: 'deny', determining: [], errors: answer.errors.map((e) => e.message) };
  const { decision, diagnostics } = answer.response;
  return {
    decision,
    determining: diagnostics.reason,
    errors: diagnostics.errors.map((e) => `${e.policyId}: ${e.error.message}`),
  };
}

function ref(e: EntityRef): Cedar.TypeAndId {
  return { type: e.type, id: e.id };
}

function entitiesOf(request: DecisionRequest): Cedar.EntityJson[] {
  const seen = new Set<string>();
  const out: Cedar.EntityJson[] = [];
  for (const e of [request.principal, request.resource, ...(request.entities ?? [])]) {
    if (!e.attrs && !e.parents) continue;
    const key = `${e.type}::${e.id}`;
    if (seen.has(key)) continue;
    seen.add(key);
    out.push({ uid: ref(e), attrs: toCedarRecord(e.attrs ?? {}), parents: (e.parents ?? []).map(ref) });
  }
  return out;
}
