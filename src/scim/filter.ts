/**
 * RFC 7644 §3.4.2.2 filters through scim2-parse-filter's grammar, evaluated with attribute names,
 * operators and string values compared without regard to case (Vigil's attributes are not caseExact).
 */
import { filter as compile, parse, type Filter } from 'scim2-parse-filter';
import { ScimError } from './errors.ts';

/** The value with every key, and every string, in lower case. */
function folded(value: unknown): unknown {
  if (typeof value === 'string') return value.toLowerCase();
  if (Array.isArray(value)) return value.map(folded);
  if (value && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k.toLowerCase(), folded(v)]));
  return value;
}

function foldFilter(f: Filter): Filter {
  switch (f.op) {
    case 'and': case 'or': return { ...f, filters: (f as { filters: Filter[] }).filters.map(foldFilter) } as Filter;
    case 'not': return { ...f, filter: foldFilter((f as { filter: Filter }).filter) } as Filter;
    case '[]': { const v = f as { attrPath: string; valFilter: Filter }; return { ...v, attrPath: v.attrPath.toLowerCase(), valFilter: foldFilter(v.valFilter) } as Filter; }
    default: {
      const c = f as { op: string; attrPath: string; compValue?: unknown };
      return { ...c, op: c.op.toLowerCase(), attrPath: c.attrPath.toLowerCase(), ...(typeof c.compValue === 'string' ? { compValue: c.compValue.toLowerCase() } : {}) } as Filter;
    }
  }
}

/** A test of resources (or multi-valued attribute elements) against `text`; 400 invalidFilter when it does not parse. */
export function compileFilter(text: string): (resource: unknown) => boolean {
  let ast: Filter;
  try {
    if (text.length > 2048) throw new Error('too long');
    ast = parse(text);
  } catch {
    throw new ScimError(400, `the filter ${JSON.stringify(text.slice(0, 200))} is not a valid SCIM filter`, 'invalidFilter');
  }
  const test = compile(foldFilter(ast));
  return (resource) => test(folded(resource));
}
