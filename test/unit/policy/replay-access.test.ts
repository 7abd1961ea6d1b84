import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { riskReplay } from '../../../src/cli/index.ts';

const dir = mkdtempSync(join(tmpdir(), 'vigil-replay-access-'));
const UA = 'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36';
const event = (type: string, minute: number, posture: Record<string, unknown>) => JSON.stringify({
  type, time: `2026-01-05T09:${String(minute).padStart(2, '0')}:00Z`, account: 'ada', session: 's1', client: 'notes', ip: '81.2.69.160', userAgent: UA,
  device: 'd1', posture, scope: 'openid email offline_access', roles: ['admin', 'staff'], acr: 'urn:vigil:acr:2fa',
});

test('vigil risk replay --access-policy: each event under the policy in force and the proposed one, and what changes', () => {
  const input = join(dir, 'events.jsonl');
  writeFileSync(input, [event('login', 0, { compliant: true }), event('refresh', 10, { compliant: false, reasons: ['disk not encrypted'] })].join('\n'));
  const proposed = join(dir, 'proposed.cedar');
  writeFileSync(proposed, `@id("allow") permit (principal, action, resource);
@id("email-needs-compliant-device")
forbid (principal, action == Action::"receive_scope", resource == Scope::"email") when { context.device.registered && !context.device.compliant };`);
  const lines: string[] = [];
  expect(riskReplay(['--input', input, '--access-policy', proposed], (line) => lines.push(line))).toBe(0);
  const [login, refresh, summary] = lines.map((l) => JSON.parse(l));
  expect(login.access).toEqual({
    changed: false,
    before: { scopes: ['openid', 'email', 'offline_access'], roles: ['admin', 'staff'], refused: false, determining: [] },
    after: { scopes: ['openid', 'email', 'offline_access'], roles: ['admin', 'staff'], refused: false, determining: [] },
  });
  expect(refresh.access).toMatchObject({ changed: true, after: { scopes: ['openid', 'offline_access'], determining: ['email-needs-compliant-device'] } });
  expect(summary.summary.access).toEqual({ changed: 1, narrowed: 1, widened: 0, refused: 0, unrefused: 0 });
});

test('a proposed policy that does not validate is refused naming its line', () => {
  const input = join(dir, 'one.jsonl');
  writeFileSync(input, event('login', 0, { compliant: true }));
  const bad = join(dir, 'bad.cedar');
  writeFileSync(bad, 'permit (principal, action, resource)\nwhen { context.devise.compliant };');
  expect(() => riskReplay(['--input', input, '--access-policy', bad], () => {})).toThrow(/--access-policy: invalid access policy: .*bad\.cedar:2:8/);
});
