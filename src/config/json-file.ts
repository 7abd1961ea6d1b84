import { readFileSync } from 'node:fs';
import { ConfigError } from './load.ts';

/**
 * A JSON file a setting names (the SSF transmitters, the federation file): its parsed content,
 * and a way to refuse it — a ConfigError naming the setting, the file and the problem.
 */
export function readSettingFile(setting: string, path: string): { json: unknown; fail: (problem: string) => ConfigError } {
  const fail = (problem: string) => new ConfigError(`${setting}: ${path}: ${problem}`);
  try {
    return { json: JSON.parse(readFileSync(path, 'utf8')), fail };
  } catch (err) {
    throw fail((err as NodeJS.ErrnoException).code ? `cannot read it: ${(err as Error).message}` : `not valid JSON: ${(err as Error).message}`);
  }
}
