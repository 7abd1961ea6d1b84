/** RFC 7644 §3.4.2.3 sorting: by an attribute path (case-insensitive), missing values last either way. */
import { ScimError } from './errors.ts';

type Json = Record<string, unknown>;

/** The value at `path` (`userName`, `name.familyName`, `meta.created`, `urn:…:User:department`); a multi-valued attribute sorts by its primary (or first) value. */
function valueAt(resource: Json, path: string): unknown {
  const lower = path.toLowerCase();
  const urn = Object.keys(resource).find((k) => k.startsWith('urn:') && lower.startsWith(`${k.toLowerCase()}:`));
  const [start, rest] = urn ? [resource[urn], path.slice(urn.length + 1)] : [resource, path];
  let value: unknown = start;
  for (const part of rest.split('.')) {
    if (Array.isArray(value)) value = (value.find((v) => (v as Json)?.primary === true) ?? value[0]) as unknown;
    if (!value || typeof value !== 'object') return undefined;
    const key = Object.keys(value).find((k) => k.toLowerCase() === part.toLowerCase());
    value = key === undefined ? undefined : (value as Json)[key];
  }
  if (Array.isArray(value)) value = (value.find((v) => (v as Json)?.primary === true) ?? value[0]) as unknown;
  if (value && typeof value === 'object') value = (value as Json).value;
  return value;
}

export function sortResources(resources: Json[], sortBy: string | undefined, sortOrder: string | undefined): Json[] {
  if (sortBy === undefined) {
    if (sortOrder !== undefined) throw new ScimError(400, 'sortOrder needs sortBy', 'invalidValue');
    return resources;
  }
  if (!/^[\w:.$-]{1,256}$/.test(sortBy)) throw new ScimError(400, 'sortBy must be an attribute path', 'invalidValue');
  const order = (sortOrder ?? 'ascending').toLowerCase();
  if (order !== 'ascending' && order !== 'descending') throw new ScimError(400, 'sortOrder must be ascending or descending', 'invalidValue');
  const sign = order === 'ascending' ? 1 : -1;
  const keyed = resources.map((r) => ({ r, v: valueAt(r, sortBy) }));
  keyed.sort((a, b) => {
    if (a.v === undefined || a.v === null) return b.v === undefined || b.v === null ? 0 : 1;
    if (b.v === undefined || b.v === null) return -1;
    const x = typeof a.v === 'string' ? a.v.toLowerCase() : a.v as number;
    const y = typeof b.v === 'string' ? b.v.toLowerCase() : b.v as number;
    return (x < y ? -1 : x > y ? 1 : 0) * sign;
  });
  return keyed.map((k) => k.r);
}
