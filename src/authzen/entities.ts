/**
 * The operator's entities for the AuthZEN policies (VIGIL_AUTHZEN_ENTITIES): Cedar entities JSON
 * (`[{ "uid": {"type", "id"}, "attrs": {…}, "parents": [...] }]`) — the people and groups the
 * policies name that are not Vigil accounts, and the resources a search may return.
 */
import { z } from 'zod';
import { firstIssue } from '../http/index.ts';
import { entityKey, type EntityUid, type PolicyEntity } from './decider.ts';

/** The most entities the file may hold (every evaluation is given all of them). */
export const MAX_ENTITIES = 20_000;

const uidSchema = z.object({ type: z.string().min(1).max(256), id: z.string().min(1).max(1024) });
const fileSchema = z.array(z.object({
  uid: uidSchema,
  attrs: z.record(z.string(), z.unknown()).default({}),
  parents: z.array(uidSchema).default([]),
})).max(MAX_ENTITIES, `at most ${MAX_ENTITIES} entities`);

export class EntitiesFileError extends Error {
  override name = 'EntitiesFileError';
}

/** The entities, found by reference and listed by type (in file order: a search's order). */
export class EntityStore {
  readonly all: readonly PolicyEntity[];
  readonly #byKey = new Map<string, PolicyEntity>();
  readonly #byType = new Map<string, PolicyEntity[]>();

  constructor(entities: readonly PolicyEntity[]) {
    this.all = entities;
    for (const entity of entities) {
      const key = entityKey(entity.uid);
      if (this.#byKey.has(key)) throw new EntitiesFileError(`entity ${entity.uid.type}::"${entity.uid.id}" is listed twice`);
      this.#byKey.set(key, entity);
      let list = this.#byType.get(entity.uid.type);
      if (!list) this.#byType.set(entity.uid.type, list = []);
      list.push(entity);
    }
  }

  static empty(): EntityStore {
    return new EntityStore([]);
  }

  static parse(text: string): EntityStore {
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (err) {
      throw new EntitiesFileError(`not valid JSON: ${(err as Error).message}`);
    }
    const result = fileSchema.safeParse(value);
    if (!result.success) throw new EntitiesFileError(firstIssue(result.error, { root: 'the file' }));
    return new EntityStore(result.data);
  }

  find(uid: EntityUid): PolicyEntity | undefined {
    return this.#byKey.get(entityKey(uid));
  }

  /**
   * The entities of the store that evaluating with `roots` (and `values`: the context) can reach:
   * their parents and the entities their attributes refer to (`{"__entity": …}`), transitively —
   * what Cedar may look at, instead of the whole store at every evaluation. Roots themselves excluded.
   */
  reachableFrom(roots: readonly PolicyEntity[], values: readonly unknown[] = []): PolicyEntity[] {
    const seen = new Set(roots.map((r) => entityKey(r.uid)));
    const found: PolicyEntity[] = [];
    const queue: EntityUid[] = [];
    const refs = (value: unknown): void => {
      if (Array.isArray(value)) for (const v of value) refs(v);
      else if (value && typeof value === 'object') {
        const ref = (value as { __entity?: unknown }).__entity as Partial<EntityUid> | undefined;
        if (ref && typeof ref.type === 'string' && typeof ref.id === 'string') queue.push({ type: ref.type, id: ref.id });
        else for (const v of Object.values(value)) refs(v);
      }
    };
    for (const root of roots) {
      queue.push(...root.parents);
      refs(root.attrs);
    }
    refs(values);
    for (let uid = queue.pop(); uid; uid = queue.pop()) {
      const key = entityKey(uid);
      if (seen.has(key)) continue;
      seen.add(key);
      const entity = this.#byKey.get(key);
      if (!entity) continue;
      found.push(entity);
      queue.push(...entity.parents);
      refs(entity.attrs);
    }
    return found;
  }

  ofType(type: string): readonly PolicyEntity[] {
    return this.#byType.get(type) ?? [];
  }

  get size(): number {
    return this.all.length;
  }
}
