/**
 * A password sign-in through the risk engine, on the embedded Postgres: assessed, then recorded
 * into the account's history. Recorded in the same request, it is written on the profile its
 * assessment read (one read of the risk state per sign-in, as a refresh has); a sign-in recorded
 * elsewhere (after a second factor: its context came back from the challenge store) reads it anew.
 */
import { randomBytes } from 'node:crypto';
import { Writable } from 'node:stream';
import { AuditLog, prepareAuditEntry, type AuditEntry, type PreparedAuditEntry } from '../../../src/audit/index.ts';
import { loadConfig } from '../../../src/config/index.ts';
import { KeyRing } from '../../../src/crypto/index.ts';
import { createLogger } from '../../../src/observability/index.ts';
import { StepUpRequirements, type Revocations } from '../../../src/sessions/index.ts';
import { BatchWriter, migrate, PgliteSql, type Sql } from '../../../src/store/index.ts';
import { ContinuousVerifier, loadPolicyFiles, PopulationCache, RiskStore } from '../../../src/verification/index.ts';

let sql: PgliteSql;
let verifier: ContinuousVerifier;
let auditQueue: BatchWriter<AuditEntry, PreparedAuditEntry>;
const statements: string[] = [];

beforeAll(async () => {
  sql = await PgliteSql.open(undefined);
  await migrate(sql);
  // What the risk store asks of the database, by the name of its prepared statement.
  const counted: Sql = {
    kind: sql.kind,
    transaction: (fn, opening) => sql.transaction(fn, opening),
    close: () => sql.close(),
    query: (text: string, params?: unknown[], options?: { prepareAs?: string }) => {
      statements.push(options?.prepareAs ?? text.trim().split(/\s+/)[0]);
      return sql.query(text, params);
    },
  };
  const config = loadConfig({ VIGIL_RISK_ENGINE: 'true' }, process.cwd());
  const logger = createLogger('error', new Writable({ write: (_c, _e, done) => done() }) as never);
  const audit = new AuditLog(sql, new KeyRing(randomBytes(32)));
  auditQueue = new BatchWriter('audit', (entries: PreparedAuditEntry[]) => audit.appendPrepared(entries), logger, { prepare: prepareAuditEntry });
  const files = loadPolicyFiles(config);
  verifier = new ContinuousVerifier({
    config, store: new RiskStore(counted), population: new PopulationCache(sql, logger), files: () => files, geo: () => undefined,
    revocations: {} as Revocations, stepUps: new StepUpRequirements(sql), audit, auditQueue, logger,
  });
}, 60_000);

afterAll(async () => {
  await verifier?.flush();
  await auditQueue?.drain();
  await sql?.close();
});

async function account(): Promise<string> {
  const id = `acct-${randomBytes(5).toString('hex')}`;
  await sql.query('INSERT INTO accounts (id, email) VALUES ($1, $2)', [id, `${id}@example.com`]);
  return id;
}

const history = async (accountId: string) => (await sql.query<{ total: number }>(
  "SELECT jsonb_array_length(history->'events') AS total FROM risk_profiles WHERE account_id = $1", [accountId])).rows[0]?.total ?? 0;

const signIn = (accountId: string) => ({ accountId, clientId: 'web', ip: '81.2.69.142', userAgent: 'Mozilla/5.0 (X11; Linux x86_64; rv:127.0) Gecko/20100101 Firefox/127.0' });

test('a sign-in recorded in the request that assessed it reads the risk state once, and joins the history', async () => {
  const id = await account();
  for (const n of [1, 2]) {
    statements.length = 0;
    const verdict = (await verifier.assessLogin(signIn(id)))!;
    await verifier.recordLogin(verdict.context);
    expect(statements.filter((s) => s === 'vigil_risk_load_v3')).toHaveLength(1);
    expect(await history(id)).toBe(n);
  }
});

test('a sign-in recorded from a context that came back from the challenge store reads the risk state anew', async () => {
  const id = await account();
  const verdict = (await verifier.assessLogin(signIn(id)))!;
  statements.length = 0;
  await verifier.recordLogin(structuredClone(verdict.context));
  expect(statements.filter((s) => s === 'vigil_risk_load_v3')).toHaveLength(1);
  expect(await history(id)).toBe(1);
});
