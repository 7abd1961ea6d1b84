/** The activity windows' buckets at their edges, and the charts' geometry where a browser test cannot easily reach: all zeros, one assessment, many at one time, escaping. */
import { activityBuckets } from '../../../src/admin/activity.ts';
import { activityBars, riskTimeline } from '../../../src/admin/console-charts.ts';
import { createViews } from '../../../src/http/views.ts';
import type { ActivityReport, RiskEventSummary } from '../../../src/admin/types.ts';

test('a window ends with the bucket that holds its moment: a moment on an edge opens the next bucket', () => {
  const day = activityBuckets('day', Date.parse('2026-01-15T11:00:00Z'));
  expect([day.from.toISOString(), day.to.toISOString(), day.starts.length]).toEqual(['2026-01-14T12:00:00.000Z', '2026-01-15T12:00:00.000Z', 24]);
  const justBefore = activityBuckets('day', Date.parse('2026-01-15T10:59:59.999Z'));
  expect(justBefore.to.toISOString()).toBe('2026-01-15T11:00:00.000Z');
  const week = activityBuckets('week', Date.parse('2026-01-15T00:00:00Z'));
  expect([week.from.toISOString(), week.to.toISOString()]).toEqual(['2026-01-09T00:00:00.000Z', '2026-01-16T00:00:00.000Z']);
  expect(week.starts.map((d) => d.toISOString().slice(0, 10))).toEqual(['2026-01-09', '2026-01-10', '2026-01-11', '2026-01-12', '2026-01-13', '2026-01-14', '2026-01-15']);
});

const report = (counts: number[]): ActivityReport => {
  const span = activityBuckets('day', Date.parse('2026-01-15T10:30:00Z'));
  return {
    window: 'day', bucket: 'hour', from: span.from.toISOString(), to: span.to.toISOString(),
    series: [{ kind: 'denial', label: 'Denials', total: counts.reduce((a, b) => a + b, 0), buckets: span.starts.map((s, i) => ({ start: s.toISOString(), count: counts[i] ?? 0 })) }],
  };
};

test('a series of zeros is bars of no height on the baseline, and says there were none', () => {
  const chart = activityBars(report([]), 'denial');
  expect(chart.bars).toHaveLength(24);
  expect(chart.bars.every((b) => b.height === 0 && b.y === chart.base && Number.isFinite(b.x))).toBe(true);
  expect(chart.summary).toBe('No denials in any hour.');
  expect(chart.bars[0].title).toBe('2026-01-14 11:00–12:00 UTC: 0 denials');
  expect(chart.bars[23].title).toBe('2026-01-15 10:00–11:00 UTC: 0 denials');
  expect([chart.firstLabel, chart.lastLabel]).toEqual(['11:00', '10:00']);
});

test('the highest bar fills the plot; the summary names the total and the busiest hour (midnight wraps)', () => {
  const counts = Array.from({ length: 24 }, () => 0);
  counts[12] = 4; // 2026-01-14 23:00
  counts[13] = 2;
  const chart = activityBars(report(counts), 'denial');
  expect(chart.max).toBe(4);
  expect(chart.bars[12].y).toBeCloseTo(4, 5);
  expect(chart.bars[13].height).toBeCloseTo(chart.bars[12].height / 2, 1);
  expect(chart.summary).toBe('6 denials in all; the most, 4, in 2026-01-14 23:00–00:00 UTC.');
});

const event = (id: string, at: string, score: number, extra: Partial<RiskEventSummary> = {}): RiskEventSummary => ({
  id, at, type: 'refresh', accountId: 'a', sessionUid: 's', clientId: 'c1', clientName: '<Wiki & co>', ip: '203.0.113.7', place: null, deviceId: null,
  score, level: score >= 60 ? 'high' : score >= 30 ? 'medium' : 'low', decision: 'allow', reasons: [], ...extra,
});

test('a timeline: oldest left, one assessment in the middle, assessments at one time spread evenly, thresholds that share a score merged', () => {
  const one = riskTimeline([event('1', '2026-01-15T10:00:00.000Z', 50)], []);
  expect(one.points).toHaveLength(1);
  expect(one.points[0].x).toBe(one.left + (one.width - one.left - one.right) / 2);
  const same = riskTimeline([event('2', '2026-01-15T10:00:00.000Z', 10), event('1', '2026-01-15T10:00:00.000Z', 90)], []);
  expect(same.points.map((p) => p.x)).toEqual([same.left, same.width - same.right]);
  // At one time, by id: the first stored (score 90) left, higher up.
  expect(same.points[0].y).toBeLessThan(same.points[1].y);
  const newestFirst = [
    event('3', '2026-01-15T12:00:00.000Z', 70, { decision: 'revoke', reasons: [{ name: 'impossible_travel', points: 70, reason: 'Travel from Paris to Sydney in 1 h' }, { name: 'x', points: 0, reason: 'nothing' }] }),
    event('2', '2026-01-15T11:00:00.000Z', 0),
  ];
  const t = riskTimeline(newestFirst, [
    { type: 'login', minScore: 30, decision: 'mfa', acr: 'urn:vigil:acr:2fa' }, { type: 'refresh', minScore: 30, decision: 'step_up', acr: 'urn:vigil:acr:2fa' },
    { type: 'refresh', minScore: 85, decision: 'revoke' }, { type: 'login', minScore: 90, decision: 'deny' },
  ]);
  expect(t.points[1].title).toBe('2026-01-15 12:00 UTC, refresh for <Wiki & co>: score 70 (high), revoke. Travel from Paris to Sydney in 1 h (+70)');
  expect(t.points[0].title).toMatch(/score 0 \(low\), allow\. No risk signals\.$/);
  expect(t.thresholds.map((x) => [x.score, x.label, x.labelled])).toEqual([
    [30, '≥ 30: login mfa (2fa), refresh step-up (2fa)', true], [85, '≥ 85: refresh revoke', true], [90, '≥ 90: login deny', false],
  ]);
  // Drawn by the template, every text is escaped.
  const html = createViews(undefined, false).renderString('{% from "admin/charts.njk" import timeline %}{{ timeline("t", t) }}', { t });
  expect(html).toContain('&lt;Wiki &amp; co&gt;');
  expect(html).not.toContain('<Wiki');
  expect(html).not.toMatch(/\sstyle=/);
});
