import pg from 'pg';

export interface EngineSummary {
  decisions: { type: string; action: string; count: number; avgScore: number; maxScore: number }[];
  refreshSignals: { name: string; count: number; avgPoints: number }[];
  /** The accounts' histories: how often they were written, and how big they are. */
  profiles: { accounts: number; writes: number; avgBytes: number; avgEvents: number; refreshEvents: number };
}

/** What the engine decided during the run, from the assessments it stored: proof that it ran, and why. */
export async function engineSummary(databaseUrl: string): Promise<EngineSummary> {
  const db = new pg.Client({ connectionString: databaseUrl });
  await db.connect();
  try {
    const decisions = await db.query<{ type: string; action: string; count: string; avg: string; max: number }>(
      `SELECT type, decision->>'action' AS action, count(*) AS count, round(avg(score), 1) AS avg, max(score) AS max
       FROM risk_assessments GROUP BY 1, 2 ORDER BY 1, 2`);
    const signals = await db.query<{ name: string; count: string; avg: string }>(
      `SELECT s->>'name' AS name, count(*) AS count, round(avg((s->>'contribution')::numeric), 1) AS avg
       FROM risk_assessments, jsonb_array_elements(signals) AS s WHERE type = 'refresh' GROUP BY 1 ORDER BY 2 DESC, 1`);
    const profiles = await db.query<{ accounts: string; writes: string | null; bytes: string | null; events: string | null; refreshes: string | null }>(
      `SELECT count(*) AS accounts, sum(version) AS writes, round(avg(pg_column_size(history))) AS bytes,
         round(avg(jsonb_array_length(coalesce(history->'events', '[]'::jsonb))), 1) AS events,
         sum((SELECT count(*) FROM jsonb_array_elements(coalesce(history->'events', '[]'::jsonb)) AS e WHERE e->>'deviceId' IS NULL)) AS refreshes
       FROM risk_profiles`);
    const p = profiles.rows[0];
    return {
      profiles: { accounts: Number(p.accounts), writes: Number(p.writes ?? 0), avgBytes: Number(p.bytes ?? 0), avgEvents: Number(p.events ?? 0), refreshEvents: Number(p.refreshes ?? 0) },
      decisions: decisions.rows.map((r) => ({ type: r.type, action: r.action, count: Number(r.count), avgScore: Number(r.avg), maxScore: r.max })),
      refreshSignals: signals.rows.map((r) => ({ name: r.name, count: Number(r.count), avgPoints: Number(r.avg) })),
    };
  } finally {
    await db.end();
  }
}

export function printEngineSummary(engine: EngineSummary): void {
  console.log(`risk engine decisions (engine-on server, warm-up and sign-ins included): ${engine.decisions.map((d) => `${d.type} ${d.action} ×${d.count} (score avg ${d.avgScore}, max ${d.maxScore})`).join('; ')}`);
  console.log(`refresh signals: ${engine.refreshSignals.map((s) => `${s.name} ×${s.count} (avg ${s.avgPoints})`).join(', ')}`);
  const p = engine.profiles;
  console.log(`account histories: ${p.accounts} profiles, ${p.writes} writes in all, ~${p.avgBytes} bytes and ${p.avgEvents} events each (${p.refreshEvents} events without a device id, i.e. recorded refreshes)`);
}
