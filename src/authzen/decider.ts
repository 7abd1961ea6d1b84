/**
 * What the decision point asks of the policy engine: one Cedar request (principal, action,
 * resource, context, entities) in, allow or deny with the policies that determined it out.
 */

/** A Cedar entity reference. */
export interface EntityUid {
  type: string;
  id: string;
}

/** A Cedar entity in its JSON form (attribute values as Cedar's entity JSON writes them). */
export interface PolicyEntity {
  uid: EntityUid;
  attrs: Record<string, unknown>;
  parents: EntityUid[];
}

export interface PolicyQuery {
  principal: EntityUid;
  action: EntityUid;
  resource: EntityUid;
  context: Record<string, unknown>;
  entities: PolicyEntity[];
}

export interface PolicyAnswer {
  allowed: boolean;
  /** The ids of the policies that determined the answer. */
  determining: string[];
  /** Evaluation errors (a policy that erred is skipped: Cedar's semantics). */
  errors: string[];
}

export type Decider = (query: PolicyQuery) => PolicyAnswer;

export const entityKey = (uid: EntityUid) => `${uid.type}::${JSON.stringify(uid.id)}`;
