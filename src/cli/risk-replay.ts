import { readFileSync } from 'node:fs';
import { parsePolicy, replay, RiskPolicyError, type RiskPolicy } from '../risk/index.ts';
import { lookupGeo } from '../geo/index.ts';
import { parse, required, UsageError } from './args.ts';

/**
 * `vigil risk replay --input events.jsonl [--policy FILE]`: what a policy would have decided on
 * recorded or synthetic events. Prints one JSON line per event, then a summary line; needs no
 * database. The input format is in docs/risk.md.
 */
export function riskReplay(argv: string[], write: (line: string) => void): number {
  const a = parse(argv, { input: { type: 'string' }, policy: { type: 'string' } });
  const input = required(a.input, '--input');
  let text: string;
  try {
    text = readFileSync(input, 'utf8');
  } catch (err) {
    throw new UsageError(`--input ${input}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (err as Error).message}`);
  }
  let policy: RiskPolicy | undefined;
  if (a.policy) {
    try {
      policy = parsePolicy(readFileSync(a.policy, 'utf8'));
    } catch (err) {
      if (err instanceof RiskPolicyError || (err as NodeJS.ErrnoException).code) throw new UsageError(`--policy ${a.policy}: ${(err as Error).message}`);
      throw err;
    }
  }
  const output = replay(text, { geoLookup: lookupGeo, policy });
  for (const error of output.errors) process.stderr.write(`vigil: ${input}:${error.line}: ${error.message}\n`);
  for (const result of output.results) {
    write(JSON.stringify(result));
  }
  write(JSON.stringify({ summary: output.summary }));
  return output.errors.length > 0 ? 1 : 0;
}
