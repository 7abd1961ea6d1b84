import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Sql } from './sql.ts';
import { ADVISORY_LOCKS } from './advisory-locks.ts';

export const MIGRATIONS_DIR = fileURLToPath(new URL('../../migrations/', import.meta.url));
export interface MigrationResult {
  applied: string[];
  current: string | undefined;
}

/**
 * Applies numbered forward-only migrations once, all in one transaction under one lock: instances
 * starting together wait for the first, which applies everything pending (or nothing, if one fails).
 */
export async function migrate(sql: Sql, dir = MIGRATIONS_DIR): Promise<MigrationResult> {
  const files = readdirSync(dir).filter((f) => /^\d{3,}_[a-z0-9_]+\.sql$/.test(f)).sort();
  const applied: string[] = [];
  await sql.transaction(async (tx) => {
    await tx.query('SELECT pg_advisory_xact_lock($1)', [ADVISORY_LOCKS.migration]);
    await tx.query('CREATE TABLE IF NOT EXISTS schema_migrations (version text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())');
    const done = new Set((await tx.query<{ version: string }>('SELECT version FROM schema_migrations')).rows.map((r) => r.version));
    for (const file of files) {
      const version = file.replace(/\.sql$/, '');
      if (done.has(version)) continue;
      const text = readFileSync(`${dir}/${file}`, 'utf8');
      for (const statement of splitStatements(text)) await tx.query(statement);
      await tx.query('INSERT INTO schema_migrations (version) VALUES ($1)', [version]);
      applied.push(version);
    }
  });
  return { applied, current: files.at(-1)?.replace(/\.sql$/, '') };
}

/**
 * Migrations hold statements separated by semicolons at line ends; a dollar-quoted body (`$$ … $$`,
 * a function's) is never split.
 */
function splitStatements(text: string): string[] {
  const END = '\u0000';
  return text
    .split('$$')
    .map((part, i) => (i % 2 === 0 ? part.replace(/;\s*$/gm, END) : part))
    .join('$$')
    .split(END)
    .map((s) => s.replace(/^\s*--.*$/gm, '').trim())
    .filter(Boolean);
}
