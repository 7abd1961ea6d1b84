/**
 * RFC 7644 §3.5.2 PATCH on a User resource, in memory: add, replace and remove (the op's name in any
 * case: Entra ID sends "Replace"), with paths `attr`, `attr.sub`, `urn:…:User:attr` and value paths
 * `emails[type eq "work"].value` (the filter through the shared grammar). The result is read again
 * by `readUser`, like a PUT.
 */
import { compileFilter } from './filter.ts';
import { invalidValue, ScimError } from './errors.ts';
import { CORE_NAMES, ENTERPRISE_SCHEMA, SUB_NAMES } from './users.ts';

export const PATCH_SCHEMA = 'urn:ietf:params:scim:api:messages:2.0:PatchOp';
type Op = 'add' | 'replace' | 'remove';
type Json = Record<string, unknown>;

interface Target {
  /** The object the attribute lives in (the resource, or its enterprise extension). */
  container: Json;
  attr: string;
  filter?: (element: unknown) => boolean;
  sub?: string;
}

const badPath = (path: string) => new ScimError(400, `the path ${JSON.stringify(path.slice(0, 200))} names no attribute Vigil knows`, 'invalidPath');
const PATH = /^([A-Za-z][\w$-]*)(?:\[(.+)\])?(?:\.([A-Za-z][\w$-]*))?$/;

function target(resource: Json, path: string): Target {
  let rest = path;
  let container = resource;
  let names = CORE_NAMES;
  const urn = ENTERPRISE_SCHEMA.toLowerCase();
  if (path.toLowerCase().startsWith(`${urn}:`)) {
    rest = path.slice(urn.length + 1);
    container = (resource[ENTERPRISE_SCHEMA] ??= {}) as Json;
    names = SUB_NAMES[ENTERPRISE_SCHEMA];
  } else if (path.toLowerCase() === urn) {
    return { container: resource, attr: ENTERPRISE_SCHEMA };
  }
  const match = PATH.exec(rest);
  const attr = match && names.get(match[1].toLowerCase());
  if (!match || !attr || ['id', 'meta', 'schemas'].includes(attr)) throw badPath(path);
  let sub: string | undefined;
  if (match[3] !== undefined) {
    sub = SUB_NAMES[attr]?.get(match[3].toLowerCase());
    if (!sub) throw badPath(path);
  }
  if (match[2] !== undefined && attr !== 'emails') throw badPath(path);
  return { container, attr, ...(match[2] !== undefined ? { filter: compileFilter(match[2]) } : {}), ...(sub ? { sub } : {}) };
}

/** Entra ID sends a manager as its id alone. */
const shaped = (attr: string, value: unknown) => (attr === 'manager' && typeof value === 'string' ? { value } : value);

function applyAt(resource: Json, op: Op, path: string, value: unknown): void {
  const t = target(resource, path);
  const { container, attr } = t;
  if (t.filter) {
    const list = Array.isArray(container[attr]) ? container[attr] as Json[] : [];
    const matched = list.filter(t.filter);
    if (matched.length === 0) {
      if (op === 'add' && t.sub) { container[attr] = [...list, { [t.sub]: value }]; return; }
      throw new ScimError(400, `no value matches ${JSON.stringify(path.slice(0, 200))}`, 'noTarget');
    }
    if (op === 'remove') container[attr] = t.sub ? list.map((e) => { if (matched.includes(e)) delete e[t.sub!]; return e; }) : list.filter((e) => !matched.includes(e));
    else if (t.sub) for (const e of matched) e[t.sub] = value;
    else {
      if (!value || typeof value !== 'object' || Array.isArray(value)) throw invalidValue(`the value for ${path} must be an object`);
      container[attr] = list.map((e) => (matched.includes(e) ? { ...e, ...(value as Json) } : e));
    }
    return;
  }
  if (t.sub) {
    const parent = (container[attr] && typeof container[attr] === 'object' ? container[attr] : (container[attr] = {})) as Json;
    if (op === 'remove') delete parent[t.sub];
    else parent[t.sub] = value;
    return;
  }
  if (op === 'remove') { delete container[attr]; return; }
  const current = container[attr];
  if (op === 'add' && Array.isArray(current)) {
    container[attr] = [...current, ...(Array.isArray(value) ? value : [value])];
  } else if (op === 'add' && current && typeof current === 'object' && value && typeof value === 'object' && !Array.isArray(value)) {
    container[attr] = { ...current as Json, ...value as Json };
  } else {
    container[attr] = shaped(attr, value);
  }
}

export interface PatchOperation {
  op: Op;
  /** Undefined or empty: the value is an object of paths. */
  path: string | undefined;
  value: unknown;
}

/** A PATCH body's operations, checked for shape (schema, list, op names in any case, path). */
export function patchOperations(body: Json): PatchOperation[] {
  const schemas = body.schemas;
  if (!Array.isArray(schemas) || !schemas.includes(PATCH_SCHEMA)) throw new ScimError(400, `a PATCH body names the schema ${PATCH_SCHEMA}`, 'invalidSyntax');
  const ops = body.Operations ?? body.operations;
  if (!Array.isArray(ops) || ops.length === 0 || ops.length > 100) throw new ScimError(400, 'Operations must be a list of 1 to 100 operations', 'invalidSyntax');
  return ops.map((raw) => {
    const operation = (raw ?? {}) as Json;
    const op = String(operation.op ?? '').toLowerCase();
    if (op !== 'add' && op !== 'replace' && op !== 'remove') throw new ScimError(400, `op must be add, replace or remove, not ${JSON.stringify(String(operation.op).slice(0, 40))}`, 'invalidSyntax');
    const path = operation.path;
    if (path !== undefined && (typeof path !== 'string' || path.length > 512)) throw badPath(String(path));
    if (path && op !== 'remove' && !('value' in operation)) throw invalidValue(`${op} of ${path} needs a value`);
    if (!path) {
      const value = operation.value;
      if (op === 'remove') throw new ScimError(400, 'remove needs a path', 'noTarget');
      if (!value || typeof value !== 'object' || Array.isArray(value)) throw invalidValue(`${op} without a path needs an object value`);
    }
    return { op, path: path || undefined, value: operation.value };
  });
}

/** The resource (without meta) after the operations of a PATCH body, or a 400 naming the first bad one. */
export function applyPatch(resource: Json, body: Json): Json {
  const next = structuredClone(resource);
  delete next.meta;
  for (const { op, path, value } of patchOperations(body)) {
    if (path) {
      applyAt(next, op, path, value);
      continue;
    }
    for (const [key, v] of Object.entries(value as Json)) {
      // A value for the whole extension sets each of its attributes.
      if (key.toLowerCase() === ENTERPRISE_SCHEMA.toLowerCase() && v && typeof v === 'object') {
        for (const [k, x] of Object.entries(v as Json)) applyAt(next, op, `${ENTERPRISE_SCHEMA}:${k}`, x);
      } else applyAt(next, op, key, v);
    }
  }
  return next;
}
