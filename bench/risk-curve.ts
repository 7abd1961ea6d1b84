/**
 * The trade-off curve of the risk engine: for each score threshold, the share of legitimate
 * sign-ins challenged (and refreshes disrupted) against the share of each attacker class stopped.
 * At threshold T an event is stopped when a signal rule of the policy acts on it, or its score is
 * at least T (every threshold of the login and refresh tables moved together so that the lowest
 * one is T). Printed as a table and drawn as an SVG chart, the shipped operating point marked.
 */

export const CURVE_THRESHOLDS = [10, 15, 20, 25, 30, 35, 40, 45, 50, 55, 60, 70, 80, 90] as const;

/** What the curve needs of one assessment. */
export interface CurvePoint {
  score: number;
  /** A signal rule of the policy stops it whatever the thresholds. */
  ruleStops: boolean;
}

export class CurveTally {
  /** Per class: counts of events stopped at each threshold, and the total. */
  readonly #classes = new Map<string, { n: number; stopped: number[] }>();

  add(cls: string, point: CurvePoint): void {
    let c = this.#classes.get(cls);
    if (!c) this.#classes.set(cls, (c = { n: 0, stopped: CURVE_THRESHOLDS.map(() => 0) }));
    c.n++;
    CURVE_THRESHOLDS.forEach((t, i) => {
      if (point.ruleStops || point.score >= t) c.stopped[i]++;
    });
  }

  /** Share stopped per threshold (undefined when the class has no events). */
  rates(cls: string): number[] | undefined {
    const c = this.#classes.get(cls);
    return c && c.n > 0 ? c.stopped.map((s) => s / c.n) : undefined;
  }
}

const pct = (x: number | undefined) => (x === undefined ? '     -' : `${(100 * x).toFixed(1).padStart(5)}%`);

/** The table: one row per threshold, legitimate columns first, then each attacker class. */
export function curveTable(tally: CurveTally, legitColumns: readonly [string, string][], attackClasses: readonly string[], shipped: number): string {
  const head = [...legitColumns.map(([, label]) => label), ...attackClasses];
  const widths = head.map((h) => Math.max(6, h.length));
  const lines = [`  ${'T'.padStart(3)}  ${head.map((h, k) => h.padStart(widths[k])).join(' ')}`];
  CURVE_THRESHOLDS.forEach((t, i) => {
    const cells = [...legitColumns.map(([cls]) => cls), ...attackClasses].map((cls, k) => pct(tally.rates(cls)?.[i]).padStart(widths[k]));
    lines.push(`  ${String(t).padStart(3)}  ${cells.join(' ')}${t === shipped ? '   ← shipped' : ''}`);
  });
  return lines.join('\n');
}

const COLOURS = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b', '#e377c2', '#7f7f7f', '#bcbd22', '#17becf'];

function escapeXml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/**
 * The curves as an SVG chart: x the legitimate sign-ins challenged (%), y the attackers stopped
 * (%), one line per attacker class through the thresholds, a ring on each at the shipped threshold.
 */
export function curveSvg(tally: CurveTally, legitClass: string, attackClasses: readonly string[], shipped: number, title: string): string {
  const legit = tally.rates(legitClass) ?? CURVE_THRESHOLDS.map(() => 0);
  const maxX = Math.max(2, Math.ceil(100 * Math.max(...legit)));
  const W = 760, H = 480, left = 60, right = 220, top = 40, bottom = 50;
  const x = (rate: number) => left + ((100 * rate) / maxX) * (W - left - right);
  const y = (rate: number) => top + (1 - rate) * (H - top - bottom);
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    `<text x="${left}" y="22" font-size="14">${escapeXml(title)}</text>`,
  ];
  for (let i = 0; i <= 10; i++) {
    const yy = y(i / 10);
    parts.push(`<line x1="${left}" y1="${yy}" x2="${W - right}" y2="${yy}" stroke="#ddd"/><text x="${left - 6}" y="${yy + 4}" text-anchor="end">${i * 10}%</text>`);
  }
  const step = maxX <= 5 ? 0.5 : maxX <= 10 ? 1 : Math.ceil(maxX / 10);
  for (let v = 0; v <= maxX + 1e-9; v += step) {
    const xx = x(v / 100);
    parts.push(`<line x1="${xx}" y1="${top}" x2="${xx}" y2="${H - bottom}" stroke="#eee"/><text x="${xx}" y="${H - bottom + 16}" text-anchor="middle">${Number(v.toFixed(1))}%</text>`);
  }
  parts.push(`<text x="${(left + W - right) / 2}" y="${H - 12}" text-anchor="middle">legitimate sign-ins challenged</text>`);
  parts.push(`<text x="16" y="${(top + H - bottom) / 2}" text-anchor="middle" transform="rotate(-90 16 ${(top + H - bottom) / 2})">attackers stopped</text>`);
  const at = CURVE_THRESHOLDS.indexOf(shipped as (typeof CURVE_THRESHOLDS)[number]);
  attackClasses.forEach((cls, k) => {
    const rates = tally.rates(cls);
    if (!rates) return;
    const colour = COLOURS[k % COLOURS.length];
    const points = rates.map((r, i) => `${x(legit[i]).toFixed(1)},${y(r).toFixed(1)}`).join(' ');
    parts.push(`<polyline points="${points}" fill="none" stroke="${colour}" stroke-width="2"/>`);
    if (at >= 0) parts.push(`<circle cx="${x(legit[at]).toFixed(1)}" cy="${y(rates[at]).toFixed(1)}" r="5" fill="none" stroke="${colour}" stroke-width="2"/>`);
    parts.push(`<line x1="${W - right + 14}" y1="${top + 10 + k * 18}" x2="${W - right + 34}" y2="${top + 10 + k * 18}" stroke="${colour}" stroke-width="2"/><text x="${W - right + 40}" y="${top + 14 + k * 18}">${escapeXml(cls)}</text>`);
  });
  parts.push(`<text x="${W - right + 14}" y="${top + 24 + attackClasses.length * 18}">○ shipped threshold ${shipped}</text>`);
  parts.push('</svg>');
  return parts.join('\n') + '\n';
}
