import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { ConfigError, loadConfig } from '../config/index.ts';
import { decide, PolicyError, type PolicySet } from '../policy/index.ts';
import { AccessPolicyFilesError, readAccessPolicy, readTokenAccessPolicy } from '../verification/index.ts';
import { parseArgs } from 'node:util';
import { parse, UsageError } from './args.ts';

/** The access policy named by --policy (repeatable), else by VIGIL_ACCESS_POLICY, else the shipped one. */
export function accessPolicyFrom(paths: readonly string[] | undefined, flag = '--policy', read = readAccessPolicy): PolicySet {
  const setting = paths && paths.length > 0 ? paths : loadConfig().VIGIL_ACCESS_POLICY;
  if (setting.length === 1 && setting[0] === 'off') throw new UsageError('VIGIL_ACCESS_POLICY is off: name the policy with --policy');
  try {
    return read(setting);
  } catch (err) {
    if (err instanceof PolicyError || err instanceof AccessPolicyFilesError) throw new ConfigError(`${paths?.length ? flag : 'VIGIL_ACCESS_POLICY'}: ${err.message}`);
    throw err;
  }
}

/** `vigil policy check [--policy PATH]...`: the files parse, fit the schema, and the schema fits Vigil's tokens; lists the policies. */
export function policyCheck(argv: string[], write: (line: string) => void): number {
  const a = parse(argv, { policy: { type: 'string', multiple: true } });
  const set = accessPolicyFrom(a.policy, '--policy', readTokenAccessPolicy);
  if (a.json) {
    write(JSON.stringify({ ok: true, files: set.files, policies: set.policies }));
    return 0;
  }
  write(`ok: ${set.policies.length} ${set.policies.length === 1 ? 'policy' : 'policies'} in ${set.files.join(', ')}`);
  for (const p of set.policies) write(`  ${p.effect.padEnd(6)} ${p.id}  (${p.file}:${p.line})`);
  return 0;
}

const uid = z.strictObject({ type: z.string().min(1), id: z.string() });
const value: z.ZodType<unknown> = z.lazy(() => z.union([z.string(), z.boolean(), z.number().int(), z.array(value), z.record(z.string(), value)]));
const entity = uid.extend({ attrs: z.record(z.string(), value).optional(), parents: z.array(uid).optional() });
const fixtureSchema = z.array(z.strictObject({
  name: z.string().optional(),
  principal: entity,
  action: uid,
  resource: entity,
  context: z.record(z.string(), value).optional(),
  entities: z.array(entity).optional(),
  expect: z.enum(['allow', 'deny']),
  /** The policies expected to determine the decision (any order); unchecked when absent. */
  determining: z.array(z.string()).optional(),
})).min(1, 'the fixture holds no request');

type Fixture = z.infer<typeof fixtureSchema>;

function readFixture(file: string): Fixture {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new UsageError(`${file}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (err as Error).message}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new UsageError(`${file}: not valid JSON (${(err as Error).message})`);
  }
  const parsed = fixtureSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new UsageError(`${file}: ${issue.path.length ? `[${issue.path.join('].[')}]: ` : ''}${issue.message}`);
  }
  return parsed.data;
}

/**
 * `vigil policy test FILE [--policy PATH]...`: runs each request of the fixture (a JSON list of
 * { name?, principal, action, resource, context?, entities?, expect: allow|deny, determining? }) and prints each
 * mismatch; exit 1 on any.
 */
export function policyTest(argv: string[], write: (line: string) => void): number {
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options: { policy: { type: 'string', multiple: true }, json: { type: 'boolean' } }, strict: true, allowPositionals: true });
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  if (parsed.positionals.length !== 1) throw new UsageError('give one fixture FILE');
  const file = parsed.positionals[0];
  const fixture = readFixture(file);
  const set = accessPolicyFrom(parsed.values.policy);
  const failures: { name: string; expected: string; got: string; determining: readonly string[]; errors: readonly string[] }[] = [];
  fixture.forEach((request, index) => {
    const name = request.name ?? `#${index + 1}`;
    const { expect, determining, ...rest } = request;
    const d = decide(set, rest as Parameters<typeof decide>[1]);
    const wrongDetermining = determining !== undefined && [...determining].sort().join(',') !== [...d.determining].sort().join(',');
    if (d.decision !== expect || wrongDetermining) {
      failures.push({ name, expected: `${expect}${determining ? ` by ${determining.join(', ') || 'none'}` : ''}`, got: d.decision, determining: d.determining, errors: d.errors });
    }
  });
  if (parsed.values.json) {
    write(JSON.stringify({ ok: failures.length === 0, passed: fixture.length - failures.length, failed: failures }));
    return failures.length ? 1 : 0;
  }
  for (const f of failures) {
    write(`FAIL ${f.name}: expected ${f.expected}, got ${f.got} (determining: ${f.determining.join(', ') || 'none'})${f.errors.length ? ` errors: ${f.errors.join('; ')}` : ''}`);
  }
  write(`${fixture.length - failures.length} passed, ${failures.length} failed (${file})`);
  return failures.length ? 1 : 0;
}
