/**
 * Just-in-time elevation end to end over real HTTP: a person asks for an eligible role through the
 * admin API, another person approves, the person's next token carries the role, the role ends and
 * the next refresh carries it no more, and a CAEP receiver (push, RFC 8935) hears each change as
 * token-claims-change. Self-approval, over-maximum durations and a too weak approver sign-in are
 * refused; a break-glass account's sign-in raises the alarm (audit and a SET).
 */
import { writeFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as oidc from 'openid-client';
import { decodeJwt } from 'jose';
import { clientCredentialsToken, jsonCall } from '../support/json-api.ts';
import { pushReceiver } from '../support/push-receiver.ts';
import { enrolTotp } from '../support/totp.ts';
import type { Authenticator } from '../support/authenticator.ts';
import { ACR_2FA, PASSWORD, startAdminApiStack, type AdminApiStack } from '../support/admin-api-stack.ts';
import { discover, insecure, type ClientOut } from '../support/stack.ts';

const TOKEN_CLAIMS_CHANGE = 'https://schemas.openid.net/secevent/caep/event-type/token-claims-change';
const BREAK_GLASS_USED = 'https://vigil.dev/secevent/break-glass-used';

/** An RFC 8935 push endpoint on loopback. */
const receiver = pushReceiver();
/** The SETs of `type` about `sub` it received, decoded. */
const received = (type: string, sub: string) => receiver.sets.map((s) => decodeJwt(s) as Record<string, any>).filter((s) => s.events[type] && s.sub_id?.sub === sub);

const until = async (what: string, check: () => Promise<boolean> | boolean, ms = 15_000) => {
  const end = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
};

let stack: AdminApiStack;
let ids: { erin: string; abe: string; glass: string };
let abeApp: Authenticator;
let tokens: { erin: string; abe: string };

const api = (method: string, path: string, token: string, body?: unknown) => jsonCall(stack.adminApi, method, path, token, body);
const rolesIn = (t: { claims(): oidc.IDToken | undefined }) => t.claims()!.roles as string[];

beforeAll(async () => {
  await receiver.start();
  const dir = mkdtempSync(join(tmpdir(), 'vigil-elevation-'));
  const file = join(dir, 'elevation.json');
  writeFileSync(file, JSON.stringify({
    roles: {
      ops: { max_minutes: 30, approval: { approvers_role: 'approver', count: 1, acr: ACR_2FA }, min_acr: 'urn:vigil:acr:1fa' },
      // The default approval: a passkey sign-in at most 10 minutes old.
      secops: { max_minutes: 30, approval: { approvers_role: 'approver' } },
      // No approval; only two-factor sign-ins' tokens carry it.
      dba: { max_minutes: 10, min_acr: ACR_2FA },
    },
    break_glass: ['glass@elev.test'],
  }));
  stack = await startAdminApiStack('Elevation tool', {
    VIGIL_ELEVATION_FILE: file, VIGIL_ELEVATION_SWEEP_SECONDS: '1', VIGIL_SSF_RETRY_SECONDS: '1', VIGIL_ALLOWED_OUTGOING_HOSTS: `127.0.0.1:${receiver.port}`,
    // Longer than the test: only the bus can make the other instance see a change at once.
    VIGIL_METADATA_CACHE_SECONDS: '60',
  }, { instances: 2 });
  const issuer = stack.vigil.issuer;
  const make = (email: string, roles: string[] = []) => stack.run<{ id: string }>('user create', ['--email', email, '--password', PASSWORD, ...roles.flatMap((r) => ['--role', r])]);
  ids = { erin: (await make('erin@elev.test')).id, abe: (await make('abe@elev.test', ['approver'])).id, glass: (await make('glass@elev.test', ['admin'])).id };
  abeApp = await enrolTotp(stack.core, ids.abe);
  tokens = {
    erin: (await stack.personTokens('erin@elev.test', PASSWORD)).access_token,
    abe: (await stack.personTokens('abe@elev.test', PASSWORD, { totp: abeApp, acr: ACR_2FA })).access_token,
  };
  // A receiver's push stream following erin and the break-glass account.
  const ssfClient = await stack.run<ClientOut>('client create', [
    '--name', 'Receiver', '--redirect-uri', stack.redirectUri, '--grant-type', 'authorization_code', '--grant-type', 'client_credentials',
    '--allow-resource', `${issuer}/ssf`, '--scope', 'ssf:stream',
  ]);
  // A stream follows only people who signed in to its app.
  for (const email of ['erin@elev.test', 'glass@elev.test']) await stack.personTokens(email, PASSWORD, { client: ssfClient, scope: 'openid', resource: `${issuer}/ssf` });
  const ssfToken = await clientCredentialsToken(issuer, ssfClient, `${issuer}/ssf`, 'ssf:stream');
  const stream = await jsonCall(issuer, 'POST', '/ssf/stream', ssfToken, {
    delivery: { method: 'urn:ietf:rfc:8935', endpoint_url: `http://127.0.0.1:${receiver.port}/events` }, events_requested: [TOKEN_CLAIMS_CHANGE, BREAK_GLASS_USED],
  });
  expect(stream.status).toBe(201);
  for (const email of ['erin@elev.test', 'glass@elev.test']) {
    const added = await jsonCall(issuer, 'POST', '/ssf/subjects/add', ssfToken, { stream_id: stream.body.stream_id, subject: { format: 'email', email } });
    expect(added.status).toBe(200);
  }
}, 90_000);

afterAll(async () => {
  await stack?.stop();
  await receiver.stop();
});

test('request → approval by another person → the next token carries the role → it expires → the next refresh does not; CAEP token-claims-change each time', async () => {
  // An administrator makes erin eligible; nothing is held yet.
  const granted = await api('POST', `/accounts/${ids.erin}/eligibility`, stack.tokens.admin, { role: 'ops', reason: 'on call this week' });
  expect(granted.status).toBe(200);
  expect(granted.body).toMatchObject({ eligible: true, changed: true });
  // The same relying party, talking to the second instance of the deployment.
  const second = stack.instances[1];
  const toSecond: oidc.CustomFetch = (url, options) => fetch(url.startsWith(stack.vigil.issuer) ? `${second.url}${url.slice(stack.vigil.issuer.length)}` : url, options as RequestInit);
  const onSecond = await discover(stack.vigil.issuer, stack.adminTool, { ...insecure, [oidc.customFetch]: toSecond });
  const app = await stack.personTokens('erin@elev.test', PASSWORD, { scope: 'openid', resource: stack.adminApi });
  expect(rolesIn(app)).toEqual([]);

  // Longer than the role's maximum (30 minutes): refused.
  const tooLong = await api('POST', '/elevations', tokens.erin, { role: 'ops', durationSeconds: 31 * 60, reason: 'deploy the fix' });
  expect(tooLong.status).toBe(400);
  expect(tooLong.body.error_description).toMatch(/at most 30 minutes/);

  const asked = await api('POST', '/elevations', tokens.erin, { role: 'ops', durationSeconds: 20 * 60, reason: 'deploy the fix' });
  expect(asked.status).toBe(201);
  expect(asked.body).toMatchObject({ status: 'pending', role: 'ops', accountId: ids.erin, approvalsNeeded: 1 });
  // Pending is not held (and the second instance now keeps erin's elevations: none).
  const pending = await oidc.refreshTokenGrant(onSecond, app.refresh_token!, { resource: stack.adminApi });
  expect(pending.claims()!.roles).toEqual([]);
  // Erin cannot approve her own request, and the approver sees it waiting.
  const listed = await api('GET', '/elevations?status=pending', tokens.abe);
  expect(listed.body.items.map((e: { id: string }) => e.id)).toContain(asked.body.id);

  const approved = await api('POST', `/elevations/${asked.body.id}/approve`, tokens.abe, {});
  expect(approved.status).toBe(200);
  expect(approved.body).toMatchObject({ status: 'active', approvals: [{ approverId: ids.abe, acr: ACR_2FA }] });
  expect(approved.body.secondsLeft).toBeGreaterThan(19 * 60);

  // Approved on the first instance: the second carries it at once (the bus dropped what it kept).
  const elevated = await oidc.refreshTokenGrant(onSecond, pending.refresh_token!, { resource: stack.adminApi });
  expect(elevated.claims()!.roles).toEqual(['ops']);
  await until('token-claims-change with ops', () => received(TOKEN_CLAIMS_CHANGE, ids.erin).length === 1);
  expect(received(TOKEN_CLAIMS_CHANGE, ids.erin)[0].events[TOKEN_CLAIMS_CHANGE]).toMatchObject({ claims: { roles: ['ops'] }, initiating_entity: 'admin' });

  // Its end comes (moved to now in the database, as the clock would): the watch announces it.
  await stack.core.stores.sql.query(`UPDATE elevations SET expires_at = now() WHERE id = $1`, [asked.body.id]);
  await until('token-claims-change without ops', () => received(TOKEN_CLAIMS_CHANGE, ids.erin).length === 2);
  expect(received(TOKEN_CLAIMS_CHANGE, ids.erin)[1].events[TOKEN_CLAIMS_CHANGE]).toMatchObject({ claims: { roles: [] }, initiating_entity: 'system' });
  const after = await oidc.refreshTokenGrant(onSecond, elevated.refresh_token!, { resource: stack.adminApi });
  expect(after.claims()!.roles).toEqual([]);
  expect((await api('GET', `/elevations/${asked.body.id}`, tokens.erin)).body).toMatchObject({ status: 'expired', endedBy: 'system', secondsLeft: 0 });

  const trail = await api('GET', `/audit?subject=${ids.erin}&action=elevation.&limit=50`, stack.tokens.admin);
  expect(trail.body.items.map((e: { action: string; outcome: string }) => `${e.action}:${e.outcome}`).reverse()).toEqual([
    'elevation.eligibility_granted:success', 'elevation.requested:denied', 'elevation.requested:success', 'elevation.approved:success',
    'elevation.activated:success', 'elevation.expired:info',
  ]);
}, 60_000);

test('self-approval is refused (403, audited); a too weak approver sign-in gets an RFC 9470 challenge; a non-approver is refused', async () => {
  await stack.run('role eligible', ['abe@elev.test', 'ops']);
  const own = await api('POST', '/elevations', tokens.abe, { role: 'ops', durationSeconds: 600, reason: 'my own' });
  expect(own.status).toBe(201);
  const self = await api('POST', `/elevations/${own.body.id}/approve`, tokens.abe, {});
  expect(self.status).toBe(403);
  expect(self.body.error_description).toMatch(/own elevation/);
  const trail = await api('GET', `/audit?subject=${ids.abe}&action=elevation.approved`, stack.tokens.admin);
  expect(trail.body.items[0]).toMatchObject({ outcome: 'denied', details: { reason: 'self_approval' } });
  expect((await api('GET', `/elevations/${own.body.id}`, tokens.abe)).body.status).toBe('pending');
  // Nor through the CLI.
  await expect(stack.run('elevation approve', [own.body.id, '--as', 'abe@elev.test'])).rejects.toThrow(/own elevation/);

  // secops wants a passkey sign-in (the default): abe's two-factor sign-in is not enough.
  await stack.run('role eligible', ['erin@elev.test', 'secops']);
  const secops = await api('POST', '/elevations', tokens.erin, { role: 'secops', durationSeconds: 600, reason: 'incident 42' });
  expect(secops.status).toBe(201);
  const weak = await api('POST', `/elevations/${secops.body.id}/approve`, tokens.abe, {});
  expect(weak.status).toBe(401);
  expect(weak.headers.get('www-authenticate')).toMatch(/error="insufficient_user_authentication".*acr_values="urn:vigil:acr:phr"/);
  // Someone without the approver role: refused, whatever their sign-in.
  const notApprover = await api('POST', `/elevations/${secops.body.id}/approve`, stack.tokens.admin, {});
  expect(notApprover.status).toBe(403);
  // The person withdraws it.
  expect((await api('POST', `/elevations/${secops.body.id}/revoke`, tokens.erin, { reason: 'solved' })).body.status).toBe('revoked');
  // Not eligible: refused.
  expect((await api('POST', '/elevations', stack.tokens.normal, { role: 'ops', durationSeconds: 600, reason: 'x' })).status).toBe(403);
});

test('a break-glass account signing in (and refreshing) raises the alarm: audit break_glass.used and a SET to the streams following it', async () => {
  // Its sign-in to the receiver's app (before the stream followed it) was audited already.
  const audited = async () => (await api('GET', `/audit?action=break_glass.used`, stack.tokens.admin)).body.items as Record<string, any>[];
  expect(await audited()).toHaveLength(1);
  await stack.personTokens('glass@elev.test', PASSWORD, { scope: 'openid' });
  await until('the break-glass SET', () => received(BREAK_GLASS_USED, ids.glass).length === 1);
  expect(received(BREAK_GLASS_USED, ids.glass)[0].events[BREAK_GLASS_USED]).toMatchObject({ acr: 'urn:vigil:acr:1fa', client_id: stack.adminTool.client_id });
  const trail = await audited();
  expect(trail).toHaveLength(2);
  expect(trail[0]).toMatchObject({ actor: ids.glass, outcome: 'info', subject: 'glass@elev.test', details: { how: 'sign-in', client: stack.adminTool.client_id } });
  // Its refresh is a use too.
  const glass = await stack.personTokens('glass@elev.test', PASSWORD, { scope: 'openid' });
  await oidc.refreshTokenGrant(await discover(stack.vigil.issuer, stack.adminTool), glass.refresh_token!, { resource: stack.adminApi });
  await until('the refresh alarm', async () => (await audited()).length === 4);
  expect((await audited())[0]).toMatchObject({ details: { how: 'refresh' } });
  await until('the refresh SET', () => received(BREAK_GLASS_USED, ids.glass).length === 3);
  // An ordinary account's sign-in raises nothing.
  await stack.personTokens('erin@elev.test', PASSWORD, { scope: 'openid' });
  expect(await audited()).toHaveLength(4);
});

test('a role without approval is active at once, and reaches only tokens of a sign-in at its min_acr', async () => {
  await stack.run('role eligible', ['abe@elev.test', 'dba']);
  const config = await discover(stack.vigil.issuer, stack.adminTool);
  const passwordOnly = await stack.personTokens('abe@elev.test', PASSWORD, { scope: 'openid' });
  const twoFactor = await stack.personTokens('abe@elev.test', PASSWORD, { scope: 'openid', totp: abeApp, acr: ACR_2FA });
  const asked = await api('POST', '/elevations', tokens.abe, { role: 'dba', durationSeconds: 300, reason: 'index rebuild' });
  expect(asked.status).toBe(201);
  expect(asked.body).toMatchObject({ status: 'active', approvalsNeeded: 0 });
  const refresh = (t: { refresh_token?: string }) => oidc.refreshTokenGrant(config, t.refresh_token!, { resource: stack.adminApi });
  expect((await refresh(passwordOnly)).claims()!.roles).toEqual(['approver']);
  const elevated = await refresh(twoFactor);
  expect(elevated.claims()!.roles).toEqual(['approver', 'dba']);
  // Ended early by the person: gone from the next refresh.
  expect((await api('POST', `/elevations/${asked.body.id}/revoke`, tokens.abe, { reason: 'done' })).body.status).toBe('revoked');
  expect((await refresh(elevated)).claims()!.roles).toEqual(['approver']);
});
