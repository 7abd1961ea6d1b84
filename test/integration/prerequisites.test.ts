/**
 * `npm test`'s first step (test/prerequisites.ts): on a machine without the services and programs
 * the suite needs it stops within seconds, one line per missing one saying how to get it; with
 * them it lets the suite run.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, ROOT } from '../support/vigil-process.ts';

interface Run { code: number | null; stdout: string; stderr: string; ms: number }

function check(env: Record<string, string>): Promise<Run> {
  const started = Date.now();
  return new Promise((resolve) => {
    execFile(process.execPath, ['--disable-warning=ExperimentalWarning', join(ROOT, 'test/prerequisites.ts')], {
      cwd: ROOT, env: { ...process.env, ...env }, timeout: 20_000,
    }, (err, stdout, stderr) => resolve({ code: err ? (err as { code?: number }).code ?? null : 0, stdout, stderr, ms: Date.now() - started }));
  });
}

let empty: string;
beforeAll(() => { empty = mkdtempSync(join(tmpdir(), 'vigil-prereq-')); });
afterAll(() => rmSync(empty, { recursive: true, force: true }));

test('with every prerequisite missing: exit 1 within seconds, one line for each saying how to get it', async () => {
  const [pgPort, redisPort] = [await freePort(), await freePort()];
  const run = await check({
    TEST_DATABASE_URL: `postgres://postgres@127.0.0.1:${pgPort}/test`,
    TEST_REDIS_URL: `redis://127.0.0.1:${redisPort}`,
    CHROMIUM_PATH: join(empty, 'chromium'),
    TEST_PG_BIN: join(empty, 'bin'),
    SLAPD_PATH: join(empty, 'slapd'),
    PATH: empty,
  });
  expect(run.code).toBe(1);
  expect(run.ms).toBeLessThan(10_000);
  const lines = run.stderr.trim().split('\n');
  const missing = lines.filter((l) => l.startsWith('missing: '));
  expect(missing).toHaveLength(6);
  expect(lines).toHaveLength(7);
  expect(missing[0]).toMatch(new RegExp(`^missing: Postgres is not reachable at postgres://postgres@127\\.0\\.0\\.1:${pgPort}/test .*apt-get install postgresql.*TEST_DATABASE_URL$`));
  expect(missing[1]).toMatch(new RegExp(`^missing: Redis is not reachable at redis://127\\.0\\.0\\.1:${redisPort} .*apt-get install redis-server.*TEST_REDIS_URL$`));
  expect(missing[2]).toMatch(/^missing: Chromium is not at .*chromium .*apt-get install chromium, or set CHROMIUM_PATH$/);
  expect(missing[3]).toMatch(/^missing: redis-server is not on PATH .*apt-get install redis-server$/);
  expect(missing[4]).toMatch(/^missing: initdb and postgres not found in .*apt-get install postgresql, or set TEST_PG_BIN/);
  expect(missing[5]).toMatch(/^missing: slapd is not at .*slapd .*apt-get install slapd ldap-utils openssl, or set SLAPD_PATH$/);
  expect(lines[6]).toMatch(/6 prerequisite\(s\) missing \(README\.md/);
});

test('only what is missing is reported: Redis down alone gives one line', async () => {
  const run = await check({ TEST_REDIS_URL: `redis://127.0.0.1:${await freePort()}` });
  expect(run.code).toBe(1);
  expect(run.stderr.trim().split('\n').filter((l) => l.startsWith('missing: '))).toEqual([expect.stringMatching(/^missing: Redis /)]);
});

test('a database server that never answers is given up on within the probe time', async () => {
  // A port that accepts connections and never speaks: the probe must not wait for it.
  const { createServer } = await import('node:net');
  const silent = createServer(() => {});
  await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
  const port = (silent.address() as { port: number }).port;
  try {
    // The same script with every service answering: what starting it costs on this machine now.
    const answered = await check({});
    expect(answered.code).toBe(0);
    const run = await check({ TEST_DATABASE_URL: `postgres://postgres@127.0.0.1:${port}/test`, TEST_REDIS_URL: `redis://127.0.0.1:${port}` });
    expect(run.code).toBe(1);
    // The probes give up after 2 s (clients' own connect timeouts are 10 s or none).
    expect(run.ms - answered.ms).toBeLessThan(4_000);
    expect(run.stderr.trim().split('\n').filter((l) => l.startsWith('missing: '))).toEqual([
      expect.stringMatching(/^missing: Postgres /), expect.stringMatching(/^missing: Redis /),
    ]);
  } finally {
    silent.close();
  }
});

test('with the real services and programs: exit 0', async () => {
  const run = await check({});
  expect(run.stderr).toBe('');
  expect(run.code).toBe(0);
});
