/**
 * The access policy's files (VIGIL_ACCESS_POLICY): directories and files of Cedar policies (`.cedar`) and at
 * most one schema (`.cedarschema`, or its JSON form `.cedarschema.json`); without one, Vigil's shipped schema.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ConfigError } from '../config/index.ts';
import { checkTokenSchema, loadPolicySet, PolicyError, type PolicySet, type SourceText } from '../policy/index.ts';

export const SHIPPED_ACCESS_POLICY_DIR = fileURLToPath(new URL('../../config/policy', import.meta.url));
export const SHIPPED_ACCESS_POLICY_SCHEMA = join(SHIPPED_ACCESS_POLICY_DIR, 'vigil.cedarschema');

/** A file that cannot be read, or a set of files that does not make one policy (no policy, two schemas). */
export class AccessPolicyFilesError extends Error {
  override name = 'AccessPolicyFilesError';
}

const isSchema = (name: string) => name.endsWith('.cedarschema') || name.endsWith('.cedarschema.json');

function read(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    throw new AccessPolicyFilesError(`cannot read ${path}: ${(err as Error).message}`);
  }
}

/** The files the paths name: a directory's `.cedar` and schema files (sorted, not recursive), a file itself. */
function expand(paths: readonly string[]): string[] {
  const files: string[] = [];
  for (const path of paths) {
    let isDirectory: boolean;
    try {
      isDirectory = statSync(path).isDirectory();
    } catch (err) {
      throw new AccessPolicyFilesError(`cannot read ${path}: ${(err as Error).message}`);
    }
    if (!isDirectory) {
      files.push(path);
      continue;
    }
    const names = readdirSync(path).filter((n) => n.endsWith('.cedar') || isSchema(n)).sort();
    files.push(...names.map((n) => join(path, n)));
  }
  return files;
}

/** Reads and validates; throws AccessPolicyFilesError or PolicyError (file:line:column). */
export function readAccessPolicy(paths: readonly string[]): PolicySet {
  const files = expand(paths.length > 0 ? paths : [SHIPPED_ACCESS_POLICY_DIR]);
  const schemas = files.filter(isSchema);
  if (schemas.length > 1) throw new AccessPolicyFilesError(`one schema only, found ${schemas.join(', ')}`);
  const policyFiles: SourceText[] = files.filter((f) => !isSchema(f)).map((file) => ({ file, text: read(file) }));
  if (policyFiles.length === 0) throw new AccessPolicyFilesError(`no .cedar policy file in ${paths.join(', ')}`);
  const schemaFile = schemas[0] ?? SHIPPED_ACCESS_POLICY_SCHEMA;
  return loadPolicySet({ schemaText: read(schemaFile), schemaFile, policyFiles });
}

/** As readAccessPolicy, and the schema must describe Vigil's token requests (the token endpoint's context). */
export function readTokenAccessPolicy(paths: readonly string[]): PolicySet {
  const set = readAccessPolicy(paths);
  const problems = checkTokenSchema(set);
  if (problems.length > 0) throw new AccessPolicyFilesError(`the schema ${set.files[0]} does not describe Vigil's token requests (start from config/policy/vigil.cedarschema): ${problems.join('; ')}`);
  return set;
}

/**
 * The access policy in force: the shipped one (every consented scope, every role) when the setting is empty,
 * none with `off`. A bad file stops the start (or a reload) naming the setting.
 */
export function loadAccessPolicy(setting: readonly string[]): PolicySet | undefined {
  if (setting.length === 1 && setting[0] === 'off') return undefined;
  try {
    return readTokenAccessPolicy(setting);
  } catch (err) {
    if (err instanceof PolicyError || err instanceof AccessPolicyFilesError) throw new ConfigError(`VIGIL_ACCESS_POLICY: ${err.message}`);
    throw err;
  }
}
