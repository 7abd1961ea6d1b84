import { readFileSync, readdirSync } from 'node:fs';

/** The TypeScript files of a source folder. */
export function sourceFiles(dir: URL): string[] {
  return readdirSync(dir).filter((f) => f.endsWith('.ts'));
}

/** `file` imports only what `allowed` accepts, and reads no clock, randomness, process, file or network. */
export function expectPure(dir: URL, file: string, allowed: (specifier: string) => boolean, forbiddenToo: readonly string[] = []): void {
  const source = readFileSync(new URL(file, dir), 'utf8');
  const imports = [...source.matchAll(/^\s*(?:import|export)\b[^;]*?\bfrom\s+'([^']+)'/gm)].map((m) => m[1]);
  for (const specifier of imports) {
    expect([specifier, allowed(specifier)]).toEqual([specifier, true]);
  }
  const code = source.replace(/\/\*[\s\S]*?\*\//g, '').replace(/\/\/.*$/gm, '');
  for (const forbidden of ['Date.now', 'new Date(', 'Math.random', 'process.', 'require(', 'import(', 'performance.', 'setTimeout', 'fetch(', ...forbiddenToo]) {
    expect([file, forbidden, code.includes(forbidden)]).toEqual([file, forbidden, false]);
  }
}
