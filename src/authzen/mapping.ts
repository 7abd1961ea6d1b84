/**
 * AuthZEN → Cedar (docs/authzen.md, "Mapping to Cedar"):
 * - subject {type, id, properties} → principal `type::"id"`, resource likewise, action {name} →
 *   `Action::"name"`;
 * - an entity's attributes: what Vigil knows of it (the account: `email`, `roles`; else the
 *   operator's entities file) wins; the request's `properties` fill in the attributes it lacks;
 * - context: the request's context, `action_properties` (the action's properties, when sent) and,
 *   for a subject that is a Vigil account, `vigil` (the live context). A caller's own `vigil` is
 *   dropped: only Vigil speaks for it.
 */
import { entityKey, type EntityUid, type PolicyEntity, type PolicyQuery } from './decider.ts';
import type { EntityStore } from './entities.ts';
import type { EvaluationRequest } from './schemas.ts';

/** What Vigil itself knows of a subject that is one of its accounts. */
export interface SubjectFacts {
  attrs: Record<string, unknown>;
  /** The live context (`context.vigil`). */
  live: Record<string, unknown>;
}

/** The context key Vigil's live context goes under. */
export const LIVE_CONTEXT_KEY = 'vigil';

/** Cedar entity type names: identifiers, optionally namespaced (`Todo::User`). */
export const CEDAR_TYPE = /^[A-Za-z_][A-Za-z0-9_]*(::[A-Za-z_][A-Za-z0-9_]*)*$/;

function entityOf(uid: EntityUid, properties: Record<string, unknown> | undefined, known: PolicyEntity | undefined, facts?: Record<string, unknown>): PolicyEntity {
  return {
    uid,
    attrs: { ...(properties ?? {}), ...(known?.attrs ?? {}), ...(facts ?? {}) },
    parents: known?.parents ?? [],
  };
}

/** The Cedar request an AuthZEN evaluation stands for. */
export function policyQuery(request: EvaluationRequest, store: EntityStore, subject: SubjectFacts | undefined): PolicyQuery {
  const principal = { type: request.subject.type, id: request.subject.id };
  const resource = { type: request.resource.type, id: request.resource.id };
  const principalEntity = entityOf(principal, request.subject.properties, store.find(principal), subject?.attrs);
  const resourceEntity = entityOf(resource, request.resource.properties, store.find(resource));
  const roots = entityKey(principal) === entityKey(resource) ? [principalEntity] : [principalEntity, resourceEntity];
  const { [LIVE_CONTEXT_KEY]: _forged, ...context } = request.context ?? {};
  const entities = [...roots, ...store.reachableFrom(roots, [context])];
  return {
    principal,
    action: { type: 'Action', id: request.action.name },
    resource,
    context: {
      ...context,
      ...(request.action.properties ? { action_properties: request.action.properties } : {}),
      ...(subject ? { [LIVE_CONTEXT_KEY]: subject.live } : {}),
    },
    entities,
  };
}

/** Why a request cannot be put to Cedar (a member naming no Cedar type), or undefined. */
export function unmappable(request: Pick<EvaluationRequest, 'subject' | 'resource'>): string | undefined {
  if (!CEDAR_TYPE.test(request.subject.type)) return 'subject.type: must be a Cedar entity type name (letters, digits, _ and ::)';
  if (!CEDAR_TYPE.test(request.resource.type)) return 'resource.type: must be a Cedar entity type name (letters, digits, _ and ::)';
  return undefined;
}
