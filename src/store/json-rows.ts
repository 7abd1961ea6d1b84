/** What Postgres's text cannot hold: a NUL, or half of a surrogate pair (JSON.stringify escapes both). */
const UNSTORABLE_ESCAPE = /\\u(?:0000|d[89a-f])/i;

const storableString = (text: string) => text.toWellFormed().replaceAll('\0', '\uFFFD');

/** A copy of what JSON would keep of `value`, keys and strings made storable. */
function storableCopy(value: unknown): unknown {
  if (typeof value === 'string') return storableString(value);
  if (value === null || typeof value !== 'object') return value;
  if (typeof (value as { toJSON?: unknown }).toJSON === 'function') return storableCopy((value as { toJSON: () => unknown }).toJSON());
  if (Array.isArray(value)) return value.map(storableCopy);
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [storableString(k), storableCopy(v)]));
}

/**
 * JSON text that Postgres accepts as `json`/`jsonb` and as the text columns it is read into:
 * a NUL or a lone surrogate (which Postgres refuses, failing the whole statement) becomes U+FFFD.
 * The check is a scan of the text; only text that matches is serialised again, from a copy made
 * storable. `serialize`: any JSON writer whose strings are JSON.stringify's (the audit's canonical JSON).
 */
export function storableJson(value: unknown, serialize: (value: unknown) => string = JSON.stringify): string {
  const text = serialize(value);
  return UNSTORABLE_ESCAPE.test(text) ? serialize(storableCopy(value)) : text;
}

/**
 * Rows given as JSON objects (`storableJson` of each), as the one parameter of
 * `json_to_recordset($n::json)`: a batch of any size is one string for the driver to send,
 * not an array literal per column with every quote of every JSON value escaped.
 */
export function jsonRowsParameter(rows: readonly string[]): string {
  return `[${rows.join(',')}]`;
}
