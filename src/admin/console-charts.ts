/**
 * The console's charts as geometry for its templates to draw as inline SVG (no script, no style
 * attribute: colours come from classes in admin.css, so dark mode follows). Every mark carries
 * the text a person would otherwise have to read off the axis.
 */
import type { ActivityReport, RiskEventSummary, RiskThreshold } from './types.ts';

const pad = (n: number) => String(n).padStart(2, '0');
/** A bucket's start as its label: "14:00" (hours) or "12-06" (days), UTC. */
const bucketLabel = (start: string, bucket: ActivityReport['bucket']) =>
  bucket === 'hour' ? `${start.slice(11, 13)}:00` : start.slice(5, 10);
const bucketSpan = (start: string, bucket: ActivityReport['bucket']) => {
  if (bucket === 'day') return `${start.slice(0, 10)} (UTC)`;
  const hour = Number(start.slice(11, 13));
  return `${start.slice(0, 10)} ${pad(hour)}:00–${pad((hour + 1) % 24)}:00 UTC`;
};

export interface BarChart {
  width: number;
  height: number;
  /** The plot's baseline (y of a zero count). */
  base: number;
  max: number;
  bars: { x: number; y: number; width: number; height: number; count: number; label: string; span: string; title: string }[];
  /** Labels under the first and last bars. */
  firstLabel: string;
  lastLabel: string;
  /** One sentence for <desc>: the total and the busiest bucket. */
  summary: string;
}

const BAR_AREA = { width: 240, height: 56, top: 4, bottom: 14 };

/** One series of an activity report as bars; a zero count is a bar of no height over the baseline. */
export function activityBars(report: ActivityReport, kind: string): BarChart {
  const series = report.series.find((s) => s.kind === kind)!;
  const { width, height, top, bottom } = BAR_AREA;
  const base = height - bottom;
  const max = Math.max(0, ...series.buckets.map((b) => b.count));
  const step = width / series.buckets.length;
  const noun = series.label.toLowerCase();
  const bars = series.buckets.map((b, i) => {
    const h = max === 0 ? 0 : Math.round(((base - top) * b.count) / max * 10) / 10;
    return {
      x: Math.round(i * step * 10) / 10, y: Math.round((base - h) * 10) / 10, width: Math.max(1, Math.round((step - 1) * 10) / 10), height: h,
      count: b.count, label: bucketLabel(b.start, report.bucket), span: bucketSpan(b.start, report.bucket), title: `${bucketSpan(b.start, report.bucket)}: ${b.count} ${noun}`,
    };
  });
  const busiest = series.buckets.reduce((a, b) => (b.count > a.count ? b : a), series.buckets[0]);
  const per = report.bucket === 'hour' ? 'hour' : 'day';
  return {
    width, height, base, max, bars,
    firstLabel: bars[0]?.label ?? '', lastLabel: bars.at(-1)?.label ?? '',
    summary: max === 0
      ? `No ${noun} in any ${per}.`
      : `${series.total} ${noun} in all; the most, ${busiest.count}, in ${bucketSpan(busiest.start, report.bucket)}.`,
  };
}

export interface Timeline {
  width: number;
  height: number;
  left: number;
  right: number;
  /** y of score 0 and of score 100. */
  base: number;
  top: number;
  points: { x: number; y: number; level: string; decision: string; title: string }[];
  /** The path through the points, oldest first. */
  path: string;
  /** `labelled`: its score is written beside the axis (not when it would overlap the one below). */
  thresholds: { y: number; score: number; label: string; labelled: boolean }[];
  firstLabel: string;
  lastLabel: string;
  summary: string;
}

const TIMELINE = { width: 640, height: 180, left: 34, right: 8, top: 8, bottom: 22 };

/**
 * A session's risk assessments as a line of scores over time (oldest left), with the policy's
 * thresholds as horizontal lines; each point's <title> says when, what, the decision and why.
 */
export function riskTimeline(events: readonly RiskEventSummary[], thresholds: readonly RiskThreshold[]): Timeline {
  const { width, height, left, right, top, bottom } = TIMELINE;
  const base = height - bottom;
  const ordered = [...events].sort((a, b) => a.at.localeCompare(b.at) || Number(a.id) - Number(b.id));
  const times = ordered.map((e) => Date.parse(e.at));
  const first = times[0] ?? 0;
  const span = (times.at(-1) ?? 0) - first;
  const plot = width - left - right;
  const yOf = (score: number) => Math.round((base - ((base - top) * Math.min(100, Math.max(0, score))) / 100) * 10) / 10;
  const points = ordered.map((e, i) => {
    // Evenly spread when every assessment has the same time (or there is one).
    const x = left + (span > 0 ? ((times[i] - first) / span) * plot : ordered.length > 1 ? (i / (ordered.length - 1)) * plot : plot / 2);
    const reasons = e.reasons.filter((r) => r.points > 0).map((r) => `${r.reason} (+${r.points})`);
    return {
      x: Math.round(x * 10) / 10, y: yOf(e.score), level: e.level, decision: e.decision,
      title: `${e.at.slice(0, 16).replace('T', ' ')} UTC, ${e.type} for ${e.clientName}: score ${e.score} (${e.level}), ${e.decision}. ${reasons.length ? reasons.join('; ') : 'No risk signals.'}`,
    };
  });
  const byScore = new Map<number, string[]>();
  for (const t of thresholds) {
    const what = `${t.type} ${t.decision.replace('_', '-')}${t.acr ? ` (${t.acr.replace('urn:vigil:acr:', '')})` : ''}`;
    byScore.set(t.minScore, [...(byScore.get(t.minScore) ?? []), what]);
  }
  const minute = (e: RiskEventSummary | undefined) => (e ? `${e.at.slice(0, 16).replace('T', ' ')}` : '');
  const highest = ordered.reduce<RiskEventSummary | undefined>((a, e) => (!a || e.score > a.score ? e : a), undefined);
  return {
    width, height, left, right, base, top, points,
    path: points.map((p, i) => `${i ? 'L' : 'M'}${p.x} ${p.y}`).join(' '),
    thresholds: withAxisLabels([...byScore.entries()].sort((a, b) => a[0] - b[0]).map(([score, what]) => ({ y: yOf(score), score, label: `≥ ${score}: ${what.join(', ')}` }))),
    firstLabel: minute(ordered[0]), lastLabel: minute(ordered.at(-1)),
    summary: highest
      ? `${ordered.length} assessment(s) from ${minute(ordered[0])} to ${minute(ordered.at(-1))} UTC; the highest score ${highest.score} (${highest.level}, ${highest.decision}) at ${minute(highest)} UTC.`
      : 'No assessments.',
  };
}

/** Scores written beside the axis only where they do not overlap the one written below (their <title> keeps them all). */
function withAxisLabels<T extends { y: number }>(lines: T[]): (T & { labelled: boolean })[] {
  let lastY = Infinity;
  return lines.map((line) => {
    const labelled = lastY - line.y >= 9;
    if (labelled) lastY = line.y;
    return { ...line, labelled };
  });
}
