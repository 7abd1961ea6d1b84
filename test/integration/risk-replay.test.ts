import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runScript, tempDir } from '../support/vigil-process.ts';
import { lookupGeo } from '../../src/geo/index.ts';

const CHROME = 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0 Safari/537.36';
const dir = tempDir('vigil-replay-');
const file = (name: string, text: string) => {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
};
const event = (fields: Record<string, unknown>) => JSON.stringify({ client: 'webapp', account: 'alice', userAgent: CHROME, device: 'd1', ...fields });

test('geoip-lite places public addresses and leaves private ones unknown', () => {
  expect(lookupGeo('81.2.69.160')).toMatchObject({ country: 'GB' });
  expect(lookupGeo('1.128.0.1')).toMatchObject({ country: 'AU' });
  expect(lookupGeo('10.1.2.3')).toBeUndefined();
  expect(lookupGeo('127.0.0.1')).toBeUndefined();
  expect(lookupGeo('::1')).toBeUndefined();
});

test('vigil risk replay: London then Sydney ten minutes later is revoked at refresh; one line per event and a summary', async () => {
  const input = file('events.jsonl', [
    event({ type: 'login', time: '2026-03-01T08:00:00Z', session: 's1', ip: '81.2.69.160', outcome: 'success' }),
    event({ type: 'refresh', time: '2026-03-01T08:05:00Z', session: 's1', ip: '81.2.69.160' }),
    event({ type: 'refresh', time: '2026-03-01T08:15:00Z', session: 's1', ip: '1.128.0.1' }),
  ].join('\n'));
  const out = await runScript('src/cli.ts', ['risk', 'replay', '--input', input], {});
  expect(out.stderr).toBe('');
  expect(out.code).toBe(0);
  const lines = out.stdout.trim().split('\n').map((l) => JSON.parse(l));
  expect(lines).toHaveLength(4);
  expect(lines.slice(0, 3).map((l) => l.decision.action)).toEqual(['allow', 'allow', 'revoke']);
  expect(lines[2].signals.find((s: { name: string }) => s.name === 'impossible_travel').reason).toMatch(/km\/h/);
  expect(lines[3]).toEqual({ summary: { events: 3, badLines: 0, decisions: { login: { allow: 1, mfa: 0, deny: 0 }, refresh: { allow: 1, step_up: 0, revoke: 1 } } } });
});

test('vigil risk replay: bad lines are reported by number and the rest still replays; exit 1', async () => {
  const input = file('bad.jsonl', [
    event({ type: 'login', time: '2026-03-01T08:00:00Z', ip: '81.2.69.160' }),
    '{ not json',
    event({ type: 'logout', time: '2026-03-01T08:01:00Z', ip: '81.2.69.160' }),
  ].join('\n'));
  const out = await runScript('src/cli.ts', ['risk', 'replay', '--input', input], {});
  expect(out.code).toBe(1);
  expect(out.stderr).toMatch(/bad\.jsonl:2: /);
  expect(out.stderr).toMatch(/bad\.jsonl:3: type/);
  expect(JSON.parse(out.stdout.trim().split('\n').at(-1)!).summary).toMatchObject({ events: 1, badLines: 2 });
});

test.each([
  [['risk', 'replay'], /--input is required/],
  [['risk', 'replay', '--input', join(dir, 'missing.jsonl')], /no such file/],
  [['risk', 'replay', '--input', '/dev/null', '--policy', '/dev/null'], /--policy \/dev\/null: risk policy/],
  [['risk', 'replay', '--input', '/dev/null', '--frobnicate'], /Unknown option '--frobnicate'/],
])('vigil %j is a usage error', async (args, message) => {
  const out = await runScript('src/cli.ts', args as string[], {});
  expect(out.code).toBe(2);
  expect(out.stderr).toMatch(message);
  expect(out.stderr).not.toMatch(/\n\s+at /);
});
