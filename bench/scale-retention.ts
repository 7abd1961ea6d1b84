import { AuditLog } from '../src/audit/index.ts';
import { KeyRing } from '../src/crypto/index.ts';
import { PostgresSql } from '../src/store/index.ts';
import { RiskStore } from '../src/verification/index.ts';
import type { RefreshSide, RefreshSlice } from './refresh.ts';
import type { VigilTarget } from './target.ts';

/** What the retention removal did, and the refresh slices of the loaded server beside and during it. */
export interface RetentionOutcome {
  keptDays: number;
  auditRemoved: number;
  assessmentsRemoved: number;
  seconds: number;
  /** Slices while nothing was removed (one before, one after). */
  quiet: RefreshSlice[];
  /** Slices while the removal ran (as many as it took). */
  during: RefreshSlice[];
}

const ROUNDS_MAX = 20;

async function countBefore(sql: PostgresSql, table: 'audit_log' | 'risk_assessments', before: Date): Promise<number> {
  const { rows } = await sql.query<{ n: string }>(`SELECT count(*) AS n FROM ${table} WHERE at < $1`, [before.toISOString()]);
  return Number(rows[0]?.n ?? 0);
}

/**
 * The retention the server's ten-minute upkeep runs (`AuditLog.removeBefore`, `RiskStore.purge`),
 * started here on the loaded database with the loaded server's master key and a retention that
 * removes `removeDays` of the loaded days (half by default) while the loaded server is refreshing: does it
 * stall the token path? Refresh slices before, during (until the removal ends) and after.
 */
export async function retentionScenario(large: VigilTarget, side: RefreshSide, loadedDays: number, removeDays: number | undefined, seconds: number, refreshTtlSeconds: number): Promise<RetentionOutcome> {
  const keptDays = Math.max(1, loadedDays - (removeDays ?? Math.ceil(loadedDays / 2)));
  const sql = new PostgresSql(large.env.DATABASE_URL, 2);
  try {
    const audit = new AuditLog(sql, new KeyRing(Buffer.from(large.env.VIGIL_MASTER_KEY, 'base64')));
    const risk = new RiskStore(sql);
    const quiet = [await side.run(seconds)];
    const before = new Date(Date.now() - keptDays * 86_400_000);
    const [audit0, assessments0] = [await countBefore(sql, 'audit_log', before), await countBefore(sql, 'risk_assessments', before)];
    const started = performance.now();
    let done = false;
    let ended = 0;
    const removal = (async () => {
      await audit.removeBefore(before);
      await risk.purge(keptDays, refreshTtlSeconds, before.getTime() + keptDays * 86_400_000);
    })().finally(() => { done = true; ended = performance.now(); });
    const during: RefreshSlice[] = [];
    while (!done && during.length < ROUNDS_MAX) during.push(await side.run(seconds));
    await removal;
    const removalSeconds = (ended - started) / 1000;
    quiet.push(await side.run(seconds));
    return {
      keptDays, seconds: removalSeconds, quiet, during,
      auditRemoved: audit0 - await countBefore(sql, 'audit_log', before), assessmentsRemoved: assessments0 - await countBefore(sql, 'risk_assessments', before),
    };
  } finally {
    await sql.pool.end();
  }
}

/** The slices' request rate (mean) and worst p99. */
export const sliceSummary = (slices: RefreshSlice[]) => ({
  rps: slices.reduce((t, s) => t + s.rps, 0) / Math.max(1, slices.length),
  p99: Math.max(0, ...slices.map((s) => s.p99)),
});
