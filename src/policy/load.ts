import * as cedar from '@cedar-policy/cedar-wasm/nodejs';
import { Buffer } from 'node:buffer';
import { PolicyError, type PolicyProblem } from './errors.ts';
import { positionAt, type SourceText } from './source.ts';

/** One policy of a loaded set: its id (the `@id` annotation, else file:line) and where it was written. */
export interface PolicyInfo {
  readonly id: string;
  readonly file: string;
  readonly line: number;
  readonly effect: 'permit' | 'forbid';
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
  ensureSuccess(cedar.preparseSchema(schemaName, schemaValue), schema);
  ensureSuccess(cedar.preparsePolicySet(key, { staticPolicies: texts }), schema);
  return { key, schemaName, policies: infos.map(({ id, file, line, effect }) => ({ id, file, line, effect })), files: [schema.file, ...sources.map((s) => s.file)] };
}

function parseSchema(schema: SourceText): cedar.Schema {
  const trimmed = schema.text.trimStart();
  let value: cedar.Schema = schema.text;
  if (trimmed.startsWith('{')) {
    try {
      value = JSON.parse(schema.text) as cedar.Schema;
    } catch (err) {
      throw new PolicyError([{ file: schema.file, line: 1, column: 1, message: `not valid JSON: ${(err as Error).message}` }], 'invalid policy schema');
    }
  }
  const answer = cedar.checkParseSchema(value);
  if (answer.type === 'failure') throw new PolicyError(problemsOf(answer.errors, schema, 0), 'invalid policy schema');
  return value;
}

interface Located extends PolicyInfo {
  readonly source: SourceText;
  readonly offset: number;
}

function splitPolicies(sources: readonly SourceText[]): { texts: Record<string, string>; infos: Located[] } {
  const texts: Record<string, string> = {};
  const infos: Located[] = [];
  const problems: PolicyProblem[] = [];
  for (const source of sources) {
    const parts = cedar.policySetTextToParts(source.text);
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
      const json = cedar.policyToJson(text);
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
      infos.push({ id, file: source.file, line, effect: json.json.effect, source, offset: byteOffset });
    }
  }
  if (problems.length > 0) throw new PolicyError(problems);
  return { texts, infos };
}

function validate(schema: SourceText, schemaValue: cedar.Schema, texts: Record<string, string>, infos: readonly Located[]): void {
  const answer = cedar.validate({ schema: schemaValue, policies: { staticPolicies: texts }, validationSettings: { mode: 'strict' } });
  if (answer.type === 'failure') throw new PolicyError(problemsOf(answer.errors, schema, 0), 'invalid policy schema');
  if (answer.validationErrors.length === 0) return;
  const byId = new Map(infos.map((i) => [i.id, i]));
  throw new PolicyError(answer.validationErrors.flatMap((e) => {
    const where = byId.get(e.policyId);
    return where ? problemsOf([e.error], where.source, where.offset) : problemsOf([e.error], schema, 0);
  }));
}

function ensureSuccess(answer: cedar.CheckParseAnswer, where: SourceText): void {
  if (answer.type === 'failure') throw new PolicyError(problemsOf(answer.errors, where, 0));
}

function problemsOf(errors: readonly cedar.DetailedError[], source: SourceText, baseOffset: number): PolicyProblem[] {
  return errors.map((e) => {
    const location = e.sourceLocations?.[0];
    const { line, column } = positionAt(source.text, baseOffset + (location?.start ?? 0));
    const detail = [e.message, location?.label, e.help].filter((s): s is string => typeof s === 'string' && s.length > 0);
    return { file: source.file, line: location ? line : 1, column: location ? column : 1, message: detail.join(' — ') };
  });
}
