/** A language range of Accept-Language (RFC 9110 §12.5.4, RFC 4647): `de`, `de-AT`, `*`. */
const RANGE = /^(\*|[a-z]{1,8}(-[a-z0-9]{1,8})*)$/i;
const QUALITY = /^q=(0(\.\d{0,3})?|1(\.0{0,3})?)$/i;
/** A browser sends a handful; anything past this many is ignored rather than parsed. */
const MAX_RANGES = 32;

interface Range { tag: string; q: number; order: number }

function ranges(header: string): Range[] {
  const out: Range[] = [];
  for (const [order, part] of header.split(',').slice(0, MAX_RANGES).entries()) {
    const [rawTag, ...params] = part.split(';').map((s) => s.trim());
    if (!rawTag || !RANGE.test(rawTag)) continue;
    let q = 1;
    const quality = params.find((p) => /^q=/i.test(p));
    if (quality !== undefined) {
      if (!QUALITY.test(quality)) continue;
      q = Number(quality.slice(2));
    }
    if (q > 0) out.push({ tag: rawTag.toLowerCase(), q, order });
  }
  // Highest quality first; among equals, the order the browser gave.
  return out.sort((a, b) => b.q - a.q || a.order - b.order);
}

/**
 * The language to answer in: the first of the browser's ranges, by quality, that one of
 * `available` matches (exactly, or by its primary subtag: de-AT is answered in de), else
 * `fallback`. A range with q=0 is refused, so it is never chosen.
 */
export function negotiateLanguage(header: string | undefined, available: readonly string[], fallback: string): string {
  if (!header) return fallback;
  const byTag = new Map(available.map((lang) => [lang.toLowerCase(), lang]));
  for (const { tag } of ranges(header)) {
    if (tag === '*') return fallback;
    const exact = byTag.get(tag);
    if (exact) return exact;
    const primary = byTag.get(tag.split('-')[0]);
    if (primary) return primary;
  }
  return fallback;
}
