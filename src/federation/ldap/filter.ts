/**
 * LDAP search filters built from templates: a value from outside (a login, a DN, an id) is
 * escaped per RFC 4515 before it goes into the filter, so it can only ever be a value.
 */
import { FilterParser } from 'ldapts';

/** RFC 4515 §3: in an assertion value, `*`, `(`, `)`, `\` and NUL are written as `\XX`. */
const SPECIAL = /[*()\\\0]/g;

export function escapeFilterValue(value: string): string {
  return value.replace(SPECIAL, (c) => `\\${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}

/**
 * Puts escaped values into a template's `{name}` placeholders. A replacer function, never a
 * replacement string: `$&` and friends in a value must stay literal.
 */
export function fillFilter(template: string, values: Record<string, string>): string {
  return template.replace(/\{(\w+)\}/g, (whole, name: string) => (name in values ? escapeFilterValue(values[name]!) : whole));
}

/** Whether a filter parses (RFC 4515 string form); the reason when it does not. */
export function filterProblem(filter: string): string | undefined {
  if (!filter.startsWith('(') || !filter.endsWith(')')) return 'must be an LDAP filter in parentheses';
  // ldapts' parser forgives a missing ")": a directory would not. Values cannot hold bare parentheses (\28, \29).
  let depth = 0;
  for (let i = 0; i < filter.length; i += 1) {
    depth += filter[i] === '(' ? 1 : filter[i] === ')' ? -1 : 0;
    if (depth < 0 || (depth === 0 && i < filter.length - 1)) return 'has unbalanced parentheses';
  }
  if (depth !== 0) return 'has unbalanced parentheses';
  try {
    FilterParser.parseString(filter);
    return undefined;
  } catch (err) {
    return `is not a valid LDAP filter (${(err as Error).message})`;
  }
}
