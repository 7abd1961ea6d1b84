/**
 * How the console writes values for people: times to the minute in UTC (as the templates' `when`
 * macro does), and an audit entry's details as labelled lines rather than a JSON dump.
 */

/** "2026-12-06 13:42 UTC": the one way the console shows a time in text (not in a <time> element). */
export function utcMinute(t: string | Date | null | undefined): string {
  if (!t) return '—';
  const iso = typeof t === 'string' ? t : t.toISOString();
  return `${iso.slice(0, 16).replace('T', ' ')} UTC`;
}

function valueText(value: unknown): string {
  if (value === null || value === undefined || value === '') return '—';
  if (Array.isArray(value)) return value.length ? value.map(valueText).join(value.some((v) => typeof v === 'object' && v !== null) ? ' | ' : ', ') : 'none';
  if (typeof value === 'object') return Object.entries(value).map(([k, v]) => `${k}: ${valueText(v)}`).join('; ');
  return String(value);
}

/** An audit entry's details as [label, text] pairs, in the order they were written. */
export function detailLines(details: Record<string, unknown>): [string, string][] {
  return Object.entries(details).map(([key, value]) => [key.replace(/_/g, ' '), valueText(value)]);
}
