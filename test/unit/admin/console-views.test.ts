/** The console's templates and formatting where a browser test cannot easily reach: a risk level with no signal that added points, details as lines. */
import { createViews } from '../../../src/http/views.ts';
import { detailLines, utcMinute } from '../../../src/admin/console-format.ts';

const views = createViews(undefined, false);
const render = (macro: string, call: string, vars: Record<string, unknown>) =>
  views.renderString(`{% from "admin/macros.njk" import ${macro} %}${call}`, vars);

test('a risk level whose signals added no points says "no risk signals"', () => {
  const html = render('risk', '{{ risk(r) }}', { r: { level: 'low', score: 0, reasons: [] } });
  expect(html).toContain('low (0)');
  expect(html).toContain('no risk signals');
  const withReason = render('risk', '{{ risk(r) }}', { r: { level: 'medium', score: 30, reasons: ['new country'] } });
  expect(withReason).toContain('<li>new country</li>');
  expect(withReason).not.toContain('no risk signals');
});

test('a risk history row without reasons says "no risk signals", and names its client', () => {
  const html = render('riskRows', '{{ riskRows(events) }}', {
    events: [{ at: '2026-12-06T13:42:10.000Z', type: 'login', clientId: 'abc', clientName: 'Team wiki', place: null, ip: '203.0.113.7', level: 'low', score: 0, decision: 'allow', reasons: [] }],
  });
  expect(html).toContain('Team wiki');
  expect(html).toContain('no risk signals');
  expect(html).toContain('2026-12-06 13:42');
});

test('a session never refreshed says "never", not its last-seen time', () => {
  const html = render('lastRefresh', '{{ lastRefresh(s) }}', { s: { lastSeenAt: '2026-12-06T13:42:00.000Z', lastRefreshAt: null } });
  expect(html).toContain('never');
  expect(html).not.toContain('13:42');
});

test('times read the same in text as in the tables; details are labelled lines', () => {
  expect(utcMinute('2026-12-06T13:42:59.123Z')).toBe('2026-12-06 13:42 UTC');
  expect(utcMinute(new Date('2026-12-06T13:42:00Z'))).toBe('2026-12-06 13:42 UTC');
  expect(utcMinute(null)).toBe('—');
  expect(detailLines({ reason: 'stolen laptop', sessions: ['a', 'b'], grants: [], account: null, change: { name: 'x', uris: ['a'] }, signals: [{ name: 'new_country', points: 20 }, { name: 'behaviour', points: 0 }], status: 200 })).toEqual([
    ['reason', 'stolen laptop'], ['sessions', 'a, b'], ['grants', 'none'], ['account', '—'], ['change', 'name: x; uris: a'], ['signals', 'name: new_country; points: 20 | name: behaviour; points: 0'], ['status', '200'],
  ]);
});

test('the overview names the client of a failed security event delivery, linked to its page', () => {
  const html = views.render('admin/overview.njk', {
    overview: { activeSessions: 0, last24h: { revocations: 0, decisions: {}, logouts: {}, securityEvents: {} }, accountsUnderAttack: [] },
    failed: [],
    failedEvents: [{ id: '1', streamId: 's', clientId: 'c-8f2a', clientName: 'Team wiki', jti: 'j', eventType: 'https://schemas.openid.net/secevent/caep/event-type/session-revoked',
      status: 'failed', attempts: 5, lastError: '400 invalid_audience', createdAt: new Date('2026-12-06T13:42:00Z'), deliveredAt: null }],
  });
  const row = html.slice(html.indexOf('id="failed-security-events"'));
  expect(row).toContain('<a href="/admin/clients/c-8f2a">Team wiki</a>');
  expect(row).toContain('caep/event-type/session-revoked');
});

test('the federation page lists each provider with its domains, last sign-in and last error', () => {
  const html = views.render('admin/federation.njk', {
    title: 'Federation', nav: 'federation', user: { email: 'root@vigil.test', role: 'auditor' }, csrf: 'x', when: utcMinute, configured: true,
    providers: [
      { id: 'corp', kind: 'oidc', displayName: 'Corp SSO', domains: ['corp.example', 'labs.example'], provisioning: true, lastSignInAt: '2026-12-06T13:42:10.000Z', lastError: null, lastErrorAt: null },
      { id: 'dir', kind: 'ldap', displayName: 'Directory', domains: [], provisioning: false, lastSignInAt: null, lastError: 'unreachable: connect ECONNREFUSED', lastErrorAt: '2026-12-06T14:00:00.000Z' },
    ],
  });
  expect(html).toContain('id="nav-federation" aria-current="page"');
  expect(html).toMatch(/data-provider-id="corp"[\s\S]*corp\.example, labs\.example[\s\S]*2026-12-06 13:42/);
  expect(html).toMatch(/data-provider-id="dir"[\s\S]*never[\s\S]*unreachable: connect ECONNREFUSED[\s\S]*2026-12-06 14:00/);
  expect(views.render('admin/federation.njk', { title: 'Federation', user: { email: 'a', role: 'admin' }, when: utcMinute, providers: [], configured: false })).toContain('No federation file is configured');
});
