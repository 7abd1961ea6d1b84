import type * as Cedar from '@cedar-policy/cedar-wasm/nodejs';
import { cedar } from './engine.ts';
import { Buffer } from 'node:buffer';
import { PolicyError, type PolicyProblem } from './errors.ts';
import { positionAt, type SourceText } from './source.ts';
import { collectReads, type Reads } from './reads.ts';

/** One policy of a loaded set: its id (the `@id` annotation, else file:line) and where it was written. */
export interface PolicyInfo {
  readonly id: string;
  readonly file: string;
  readonly line: number;
  readonly effect: 'permit' | 'forbid';
  readonly annotations: Readonly<Record<string, string>>;
}

/**
 * A schema and policies, validated and pre-parsed into the Cedar engine's cache: `decide` refers to them by
 * key, so no policy text is parsed per decision. Immutable; a reload makes a new one.
 */
export interface PolicySet {
  readonly key: string;
  readonly schemaName: string;
  readonly policies: readonly PolicyInfo[];
  readonly files: readonly string[];
  /**
   * Every entity a policy names literally (`Type::"id"`). Two entities of one type that no policy names and
   * that carry the same attributes and parents get the same decision; callers may ask once for all of them.
   */
  readonly named: ReadonlySet<string>;
  /**
   * Per action (`Type::id`): the ids of the permits that allow every request of it unconditionally, when no
   * forbid can apply to it — such requests need no evaluation. Absent: the action must be evaluated.
   */
  readonly unconditional: ReadonlyMap<string, readonly string[]>;
  /** The context and entity attributes the policies read (see reads.ts). */
  readonly reads: Reads;
}

export interface PolicySetInput {
  /** The Cedar schema (human-readable syntax, or its JSON form as text). */
  readonly schemaText: string;
  readonly schemaFile?: string;
  /** Policies as one text, or several files; each policy may carry `@id("…")` to be named in decisions. */
  readonly policiesText?: string;
  readonly policiesFile?: string;
  readonly policyFiles?: readonly SourceText[];
}

let generation = 0;

/** Parse, validate against the schema (strict mode), and cache. Throws PolicyError naming file:line:column. */
export function loadPolicySet(input: PolicySetInput): PolicySet {
  const schema: SourceText = { file: input.schemaFile ?? 'schema', text: input.schemaText };
  const sources: SourceText[] = [...(input.policyFiles ?? [])];
  if (input.policiesText !== undefined) sources.push({ file: input.policiesFile ?? 'policies', text: input.policiesText });

  const schemaValue = parseSchema(schema);
  const { texts, infos } = splitPolicies(sources);
  validate(schema, schemaValue, texts, infos);

  generation += 1;
  const key = `vigil-policy-${generation}`;
  const schemaName = `vigil-schema-${generation}`;
  ensureSuccess(cedar().preparseSchema(schemaName, schemaValue), schema);
  ensureSuccess(cedar().preparsePolicySet(key, { staticPolicies: texts }), schema);
  const named = new Set<string>();
  for (const info of infos) collectEntities(info.json, named);
  return {
    key, schemaName, named, unconditional: unconditionalPermits(infos), reads: collectReads(infos.map((i) => i.json.conditions)),
    policies: infos.map(({ id, file, line, effect, annotations }) => ({ id, file, line, effect, annotations })),
    files: [schema.file, ...sources.map((s) => s.file)],
  };
}

const uidKey = (e: Cedar.EntityUidJson) => ('__entity' in e ? `${e.__entity.type}::${e.__entity.id}` : `${e.type}::${e.id}`);

/** The actions some permit allows outright (any principal, any resource, no condition) and no forbid may touch. */
function unconditionalPermits(infos: readonly Located[]): Map<string, string[]> {
  const forbidsAll = infos.some((i) => i.effect === 'forbid' && i.json.action.op !== '==');
  const forbidden = new Set(infos.filter((i) => i.effect === 'forbid' && i.json.action.op === '==').map((i) => uidKey((i.json.action as { entity: Cedar.EntityUidJson }).entity)));
  const out = new Map<string, string[]>();
  if (forbidsAll) return out;
  for (const info of infos) {
    const { principal, action, resource, conditions } = info.json;
    if (info.effect !== 'permit' || principal.op !== 'All' || resource.op !== 'All' || conditions.length > 0 || action.op !== '==' || !('entity' in action)) continue;
    const key = uidKey(action.entity);
    if (!forbidden.has(key)) out.set(key, [...(out.get(key) ?? []), info.id]);
  }
  return out;
}

/** `Type::"id"` of every entity literal in a policy's JSON form (scope constraints and expressions alike). */
function collectEntities(node: unknown, into: Set<string>): void {
  if (Array.isArray(node)) {
    for (const item of node) collectEntities(item, into);
    return;
  }
  if (node === null || typeof node !== 'object') return;
  const record = node as Record<string, unknown>;
  const entity = (record.__entity ?? record.entity) as { type?: unknown; id?: unknown } | undefined;
  if (entity && typeof entity.type === 'string' && typeof entity.id === 'string') into.add(`${entity.type}::${entity.id}`);
  for (const value of Object.values(record)) collectEntities(value, into);
}

function parseSchema(schema: SourceText): Cedar.Schema {
  const trimmed = schema.text.trimStart();
  let value: Cedar.Schema = schema.text;
  if (trimmed.startsWith('{')) {
    try {
      value = JSON.parse(schema.text) as Cedar.Schema;
    } catch (err) {
      throw new PolicyError([{ file: schema.file, line: 1, column: 1, message: `not valid JSON: ${(err as Error).message}` }], 'invalid policy schema');
    }
  }
  const answer = cedar().checkParseSchema(value);
  if (answer.type === 'failure') throw new PolicyError(problemsOf(answer.errors, schema, 0), 'invalid policy schema');
  return value;
}

interface Located extends PolicyInfo {
  readonly json: Cedar.PolicyJson;
  readonly source: SourceText;
  readonly offset: number;
}

function splitPolicies(sources: readonly SourceText[]): { texts: Record<string, string>; infos: Located[] } {
  const texts: Record<string, string> = {};
  const infos: Located[] = [];
  const problems: PolicyProblem[] = [];
  for (const source of sources) {
    const parts = cedar().policySetTextToParts(source.text);
    if (parts.type === 'failure') {
      problems.push(...problemsOf(parts.errors, source, 0));
      continue;
    }
    if (parts.policy_templates.length > 0) {
      problems.push({ file: source.file, line: 1, column: 1, message: 'policy templates are not supported; write static policies' });
    }
    let searchFrom = 0;
    for (const text of parts.policies) {
      const found = source.text.indexOf(text, searchFrom);
      const offset = found === -1 ? searchFrom : found;
      searchFrom = found === -1 ? searchFrom : found + text.length;
      const byteOffset = Buffer.byteLength(source.text.slice(0, offset), 'utf8');
      const { line, column } = positionAt(source.text, byteOffset);
      const json = cedar().policyToJson(text);
      if (json.type === 'failure') {
        problems.push(...problemsOf(json.errors, source, byteOffset));
        continue;
      }
      const id = json.json.annotations?.id ?? `${source.file}:${line}`;
      if (id in texts) {
        problems.push({ file: source.file, line, column, message: `policy id "${id}" is used twice` });
        continue;
      }
      texts[id] = text;
      infos.push({ id, file: source.file, line, effect: json.json.effect, annotations: json.json.annotations ?? {}, json: json.json, source, offset: byteOffset });
    }
  }
  if (problems.length > 0) throw new PolicyError(problems);
  return { texts, infos };
}

function validate(schema: SourceText, schemaValue: Cedar.Schema, texts: Record<string, string>, infos: readonly Located[]): void {
  const answer = cedar().validate({ schema: schemaValue, policies: { staticPolicies: texts }, validationSettings: { mode: 'strict' } });
  if (answer.type === 'failure') throw new PolicyError(problemsOf(answer.errors, schema, 0), 'invalid policy schema');
  if (answer.validationErrors.length === 0) return;
  const byId = new Map(infos.map((i) => [i.id, i]));
  throw new PolicyError(answer.validationErrors.flatMap((e) => {
    const where = byId.get(e.policyId);
    return where ? problemsOf([e.error], where.source, where.offset) : problemsOf([e.error], schema, 0);
  }));
}

function ensureSuccess(answer: Cedar.CheckParseAnswer, where: SourceText): void {
  if (answer.type === 'failure') throw new PolicyError(problemsOf(answer.errors, where, 0));
}

function problemsOf(errors: readonly Cedar.DetailedError[], source: SourceText, baseOffset: number): PolicyProblem[] {
  return errors.map((e) => {
    const location = e.sourceLocations?.[0];
    const { line, column } = positionAt(source.text, baseOffset + (location?.start ?? 0));
    const detail = [e.message, location?.label, e.help].filter((s): s is string => typeof s === 'string' && s.length > 0);
    return { file: source.file, line: location ? line : 1, column: location ? column : 1, message: detail.join(' — ') };
  });
}
