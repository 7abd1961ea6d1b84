import { parseArgs, type ParseArgsConfig } from 'node:util';

export class UsageError extends Error {
  override name = 'UsageError';
}

type Options = NonNullable<ParseArgsConfig['options']>;

/** Strict parsing: unknown flags, missing values and stray words are usage errors. */
export function parse<O extends Options>(argv: string[], options: O) {
  try {
    const { values } = parseArgs({ args: argv, options: { ...options, json: { type: 'boolean' } }, strict: true, allowPositionals: false });
    return values as { [K in keyof O]?: O[K]['multiple'] extends true ? string[] : O[K]['type'] extends 'boolean' ? boolean : string } & { json?: boolean };
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
}

/** As `parse`, with exactly one word besides the flags (`vigil user invite ada@example.com`), named `what` in errors. */
export function parseWithOperand<O extends Options>(argv: string[], options: O, what: string) {
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options: { ...options, json: { type: 'boolean' } }, strict: true, allowPositionals: true });
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  if (parsed.positionals.length !== 1) throw new UsageError(parsed.positionals.length ? `give one ${what}, not ${parsed.positionals.length}` : `give the ${what}`);
  return { ...(parsed.values as ReturnType<typeof parse<O>>), operand: parsed.positionals[0] };
}

export function required(value: string | undefined, flag: string): string {
  if (value === undefined || value === '') throw new UsageError(`${flag} is required`);
  return value;
}

export function positiveInt(value: string | undefined, flag: string, fallback: number, max: number): number {
  if (value === undefined) return fallback;
  if (!/^\d+$/.test(value) || Number(value) < 1 || Number(value) > max) throw new UsageError(`${flag} must be a whole number from 1 to ${max}`);
  return Number(value);
}
