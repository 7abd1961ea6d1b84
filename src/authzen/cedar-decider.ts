/**
 * The decision point's policies: VIGIL_AUTHZEN_POLICY (a directory: one Cedar schema
 * `*.cedarschema` and policies `*.cedar`) loaded with the policy module, and the operator's
 * entities (VIGIL_AUTHZEN_ENTITIES). Read at start (a bad file stops the start naming its setting)
 * and on SIGHUP (a bad file is refused and the ones in force kept).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigError, type Config } from '../config/index.ts';
import { decide, loadPolicySet, PolicyError, type PolicySet, type RequestEntity } from '../policy/index.ts';
import type { AttributeValue } from '../policy/index.ts';
import type { Decider, PolicyEntity } from './decider.ts';
import type { AuthzenPolicy } from './decision-point.ts';
import { EntitiesFileError, EntityStore } from './entities.ts';
import { schemaShapes, type SchemaShapes } from './schema-shapes.ts';

const only = (values: Record<string, unknown>, declared: ReadonlySet<string> | undefined) =>
  Object.fromEntries(Object.entries(values).filter(([k]) => declared?.has(k))) as Record<string, AttributeValue>;

/**
 * A Cedar decider over a loaded set: attributes and context the schema does not declare are
 * dropped; `always` (the entities the policies name literally, and what they reach) is given to
 * every evaluation besides the query's own.
 */
export function cedarDecider(set: PolicySet, shapes: SchemaShapes, always: readonly PolicyEntity[] = []): Decider {
  const entity = requestEntity(shapes);
  return (query) => {
    const answer = decide(set, {
      principal: query.principal,
      action: query.action,
      resource: query.resource,
      context: only(query.context, shapes.context(query.action.id)),
      entities: [...query.entities, ...always].map(entity),
    }, { validateRequest: false });
    return { allowed: answer.decision === 'allow', determining: [...answer.determining], errors: [...answer.errors] };
  };
}

const requestEntity = (shapes: SchemaShapes) => (e: PolicyEntity): RequestEntity => ({ ...e.uid, attrs: only(e.attrs, shapes.entity(e.uid.type)), parents: e.parents });

/**
 * The entities checked against the schema once, at load: decisions read them without it (the
 * policy module's fast path), where an attribute of the wrong type would only make policies miss.
 */
function unfitEntity(set: PolicySet, shapes: SchemaShapes, entities: EntityStore): string | undefined {
  const sample = shapes.sample;
  if (!sample || !entities.size) return undefined;
  const answer = decide(set, {
    principal: { type: sample.principalType, id: '' }, action: { type: 'Action', id: sample.action }, resource: { type: sample.resourceType, id: '' },
    entities: entities.all.map(requestEntity(shapes)),
  });
  return answer.errors.find((e) => /entity deserialization/i.test(e));
}

function readText(setting: string, path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigError(`${setting}: cannot read ${path}: ${(err as Error).message}`);
  }
}

/** The policies and entities the settings name, or undefined when VIGIL_AUTHZEN_POLICY is unset (no decision point). */
export function loadAuthzenPolicy(config: Pick<Config, 'VIGIL_AUTHZEN_POLICY' | 'VIGIL_AUTHZEN_ENTITIES'>): AuthzenPolicy | undefined {
  const dir = config.VIGIL_AUTHZEN_POLICY;
  if (!dir) {
    if (config.VIGIL_AUTHZEN_ENTITIES) throw new ConfigError('VIGIL_AUTHZEN_ENTITIES: goes with VIGIL_AUTHZEN_POLICY (the policies the entities are for)');
    return undefined;
  }
  let files: string[];
  try {
    files = readdirSync(dir).sort();
  } catch (err) {
    throw new ConfigError(`VIGIL_AUTHZEN_POLICY: cannot read the directory ${dir}: ${(err as Error).message}`);
  }
  const schemas = files.filter((f) => f.endsWith('.cedarschema') || f.endsWith('.cedarschema.json'));
  const policies = files.filter((f) => f.endsWith('.cedar'));
  if (schemas.length !== 1) throw new ConfigError(`VIGIL_AUTHZEN_POLICY: ${dir} must hold exactly one schema (*.cedarschema or *.cedarschema.json); it holds ${schemas.length}`);
  if (policies.length === 0) throw new ConfigError(`VIGIL_AUTHZEN_POLICY: ${dir} holds no policies (*.cedar)`);
  const schemaText = readText('VIGIL_AUTHZEN_POLICY', join(dir, schemas[0]));
  let set: PolicySet;
  try {
    set = loadPolicySet({ schemaText, schemaFile: schemas[0], policyFiles: policies.map((f) => ({ file: f, text: readText('VIGIL_AUTHZEN_POLICY', join(dir, f)) })) });
  } catch (err) {
    if (err instanceof PolicyError) throw new ConfigError(`VIGIL_AUTHZEN_POLICY: ${err.message}`);
    throw err;
  }
  const shapes = schemaShapes(schemaText);
  let entities = EntityStore.empty();
  if (config.VIGIL_AUTHZEN_ENTITIES) {
    try {
      entities = EntityStore.parse(readText('VIGIL_AUTHZEN_ENTITIES', config.VIGIL_AUTHZEN_ENTITIES));
    } catch (err) {
      if (err instanceof EntitiesFileError) throw new ConfigError(`VIGIL_AUTHZEN_ENTITIES: ${config.VIGIL_AUTHZEN_ENTITIES}: ${err.message}`);
      throw err;
    }
  }
  const named = entities.all.filter((e) => set.named.has(`${e.uid.type}::${e.uid.id}`));
  const decider = cedarDecider(set, shapes, [...named, ...entities.reachableFrom(named)]);
  const unfit = unfitEntity(set, shapes, entities);
  if (unfit) throw new ConfigError(`VIGIL_AUTHZEN_ENTITIES: ${config.VIGIL_AUTHZEN_ENTITIES}: ${unfit}`);
  return { decide: decider, entities };
}
