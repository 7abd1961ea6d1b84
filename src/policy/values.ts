import type { CedarValueJson } from '@cedar-policy/cedar-wasm/nodejs';

/**
 * What callers may put in attributes and context: strings, booleans, integers (Cedar's Long), arrays (sets),
 * plain objects (records), and Cedar's own JSON escapes (`{ __entity: … }`, `{ __extn: … }`). `undefined`
 * members are left out, so an optional attribute is simply absent.
 */
export type AttributeValue =
  | string | boolean | number | null | undefined
  | readonly AttributeValue[]
  | { readonly [key: string]: AttributeValue }
  | { readonly __entity: { readonly type: string; readonly id: string } }
  | { readonly __extn: { readonly fn: string; readonly arg: string } };

export function toCedarRecord(record: Readonly<Record<string, AttributeValue>>): Record<string, CedarValueJson> {
  const out: Record<string, CedarValueJson> = {};
  for (const [key, value] of Object.entries(record)) {
    if (value === undefined) continue;
    out[key] = toCedarValue(value, key);
  }
  return out;
}

function toCedarValue(value: AttributeValue, path: string): CedarValueJson {
  if (value === null || value === undefined) throw new TypeError(`${path}: Cedar has no null; leave the attribute out`);
  if (typeof value === 'number') {
    if (!Number.isSafeInteger(value)) throw new TypeError(`${path}: Cedar numbers are integers, got ${value}`);
    return value;
  }
  if (typeof value === 'string' || typeof value === 'boolean') return value;
  if (Array.isArray(value)) return value.map((v: AttributeValue, i: number) => toCedarValue(v, `${path}[${i}]`));
  if ('__entity' in value || '__extn' in value) return value as CedarValueJson;
  return toCedarRecord(value as Readonly<Record<string, AttributeValue>>);
}
