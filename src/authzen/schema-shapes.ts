/**
 * The attribute names a Cedar schema declares, per entity type and per action's context: the
 * policy module's `decide` checks entities and context against the schema, and refuses the whole
 * request for one attribute it does not declare — AuthZEN callers send properties freely, so the
 * undeclared ones are dropped before (a policy could not have used them: it was validated).
 * The one function here that reads the schema through cedar-wasm (the policy module has none),
 * loaded by the policy module on first use like the rest of Vigil's Cedar calls.
 */
import { cedar } from '../policy/index.ts';

export interface SchemaShapes {
  /** The attributes declared for an entity type; undefined for a type the schema does not know. */
  entity(type: string): ReadonlySet<string> | undefined;
  /** The context attributes declared for an action (`Action::"name"`); undefined for an unknown action. */
  context(action: string): ReadonlySet<string> | undefined;
  /** A request the schema allows (an action with a principal and a resource type), to check entities with. */
  readonly sample: { action: string; principalType: string; resourceType: string } | undefined;
}

interface RecordShape { type?: string; attributes?: Record<string, unknown> }
interface NamespaceJson {
  entityTypes?: Record<string, { shape?: RecordShape }>;
  actions?: Record<string, { appliesTo?: { context?: RecordShape; principalTypes?: string[]; resourceTypes?: string[] } }>;
}

const names = (shape: RecordShape | undefined) => new Set(Object.keys(shape?.attributes ?? {}));

/** The declared attribute names of a schema (Cedar's human-readable syntax or its JSON as text), already validated. */
export function schemaShapes(schemaText: string): SchemaShapes {
  const trimmed = schemaText.trimStart();
  const answer = trimmed.startsWith('{')
    ? { type: 'success' as const, json: JSON.parse(schemaText) as Record<string, NamespaceJson> }
    : cedar().schemaToJsonWithResolvedTypes(schemaText);
  if (answer.type !== 'success') throw new Error(`the schema cannot be read: ${answer.errors.map((e) => e.message).join('; ')}`);
  const entities = new Map<string, Set<string>>();
  const contexts = new Map<string, Set<string>>();
  let sample: SchemaShapes['sample'];
  for (const [namespace, body] of Object.entries(answer.json as Record<string, NamespaceJson>)) {
    const qualified = (name: string) => (namespace ? `${namespace}::${name}` : name);
    for (const [name, type] of Object.entries(body.entityTypes ?? {})) entities.set(qualified(name), names(type.shape));
    // AuthZEN actions map to the un-namespaced `Action` type only.
    if (namespace !== '') continue;
    for (const [name, action] of Object.entries(body.actions ?? {})) {
      contexts.set(name, names(action.appliesTo?.context));
      const [principalType] = action.appliesTo?.principalTypes ?? [];
      const [resourceType] = action.appliesTo?.resourceTypes ?? [];
      if (!sample && principalType && resourceType) sample = { action: name, principalType, resourceType };
    }
  }
  return { entity: (type) => entities.get(type), context: (action) => contexts.get(action), sample };
}
