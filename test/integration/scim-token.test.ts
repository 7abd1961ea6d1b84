/**
 * Long-lived SCIM provisioning tokens (Entra ID's and Okta's "secret token" mode): created with the
 * CLI for a provisioning client, accepted by the SCIM service as that client, refused once revoked
 * or expired, never stored in the clear; refusals count against the refused-token limiter.
 */
import { createHash } from 'node:crypto';
import { jsonCall } from '../support/json-api.ts';
import { startAdminApiStack, type AdminApiStack } from '../support/admin-api-stack.ts';
import type { ClientOut } from '../support/stack.ts';
import { queryDatabase } from '../support/services.ts';
import { runScript, vigilCli } from '../support/vigil-process.ts';

/** Refused tokens an address may send before it is locked out (the last test spends what is left). */
const REFUSALS = 8;

interface TokenOut { id: string; client_id: string; status: string; expires_at: string; last_used_at: string | null; token: string }

let stack: AdminApiStack;
let scim: string;
let provisioner: ClientOut;

async function scimStatus(bearer: string, query = '?count=1'): Promise<{ status: number; challenge: string | null; body: any }> {
  const res = await fetch(`${scim}/Users${query}`, { headers: { authorization: `Bearer ${bearer}` } });
  return { status: res.status, challenge: res.headers.get('www-authenticate'), body: await res.json() };
}

beforeAll(async () => {
  stack = await startAdminApiStack('Admin tool', { VIGIL_LOGIN_MAX_FAILURES_PER_IP: String(REFUSALS) });
  scim = `${stack.vigil.issuer}/scim/v2`;
  provisioner = await vigilCli<ClientOut>(stack.env, ['client', 'create', '--name', 'Entra ID', '--grant-type', 'client_credentials', '--allow-resource', scim, '--scope', 'scim']);
}, 60_000);

afterAll(async () => {
  await stack?.stop();
});

test('a token made with the CLI provisions as its client until revoked; only its hash is stored; create and revoke are audited', async () => {
  const created = await vigilCli<TokenOut>(stack.env, ['scim-token', 'create', '--client', provisioner.client_id, '--expires-in', '30']);
  expect(created.token).toMatch(/^vgs_[A-Za-z0-9_-]{43}$/);
  expect(created).toMatchObject({ client_id: provisioner.client_id, status: 'active', last_used_at: null });
  const days = (Date.parse(created.expires_at) - Date.now()) / 86_400_000;
  expect(days).toBeGreaterThan(29.9);
  expect(days).toBeLessThan(30.1);

  // The request is made as the client: the audit names it as the actor.
  const res = await fetch(`${scim}/Users`, {
    method: 'POST', headers: { authorization: `Bearer ${created.token}`, 'content-type': 'application/scim+json' },
    body: JSON.stringify({ schemas: ['urn:ietf:params:scim:schemas:core:2.0:User'], userName: 'ada@vigil.test', active: true }),
  });
  expect(res.status).toBe(201);
  const found = await scimStatus(created.token, `?filter=${encodeURIComponent('userName eq "ada@vigil.test"')}`);
  expect(found.body.Resources).toEqual([expect.objectContaining({ userName: 'ada@vigil.test' })]);
  const [made] = await queryDatabase<{ actor: string }>(stack.db.url, "SELECT actor FROM audit_log WHERE action = 'scim.user.create'");
  expect(made.actor).toContain(provisioner.client_id);

  const rows = await queryDatabase<Record<string, unknown>>(stack.db.url, 'SELECT * FROM scim_tokens WHERE id = $1', [created.id]);
  expect(rows).toHaveLength(1);
  expect(JSON.stringify(rows[0])).not.toContain(created.token.slice(4));
  expect(rows[0].token_hash).toBe(createHash('sha256').update(created.token).digest('base64url'));
  expect(rows[0].last_used_at).not.toBeNull();

  const listed = await vigilCli<TokenOut[]>(stack.env, ['scim-token', 'list']);
  expect(listed).toEqual([expect.objectContaining({ id: created.id, client_id: provisioner.client_id, status: 'active', last_used_at: expect.any(String) })]);
  expect(JSON.stringify(listed)).not.toContain(created.token);

  const revoked = await vigilCli<TokenOut>(stack.env, ['scim-token', 'revoke', created.id]);
  expect(revoked.status).toBe('revoked');
  const refused = await scimStatus(created.token);
  expect(refused.status).toBe(401);
  expect(refused.challenge).toContain('error="invalid_token"');

  const audit = await queryDatabase<{ action: string; actor: string; subject: string; details: any }>(stack.db.url,
    "SELECT action, actor, subject, details FROM audit_log WHERE action LIKE 'scim_token.%' ORDER BY seq");
  expect(audit).toEqual([
    { action: 'scim_token.created', actor: 'cli', subject: created.id, details: { clientId: provisioner.client_id, expiresAt: created.expires_at } },
    { action: 'scim_token.revoked', actor: 'cli', subject: created.id, details: { clientId: provisioner.client_id } },
  ]);
}, 60_000);

test('an expired token, an unknown one and garbage get 401 like a bad access token', async () => {
  const created = await vigilCli<TokenOut>(stack.env, ['scim-token', 'create', '--client', provisioner.client_id]);
  expect(Math.round((Date.parse(created.expires_at) - Date.now()) / 86_400_000)).toBe(365);
  expect((await scimStatus(created.token)).status).toBe(200);
  await queryDatabase(stack.db.url, "UPDATE scim_tokens SET expires_at = now() - interval '1 second' WHERE id = $1", [created.id]);
  expect((await scimStatus(created.token)).status).toBe(401);
  expect((await vigilCli<TokenOut[]>(stack.env, ['scim-token', 'list'])).find((t) => t.id === created.id)?.status).toBe('expired');

  for (const bad of [`vgs_${'A'.repeat(43)}`, 'vgs_short', `xyz_${created.token.slice(4)}`]) {
    const answer = await scimStatus(bad);
    expect({ bad, status: answer.status, challenge: answer.challenge }).toEqual({ bad, status: 401, challenge: expect.stringContaining('error="invalid_token"') });
    expect(answer.body.schemas).toEqual(['urn:ietf:params:scim:api:messages:2.0:Error']);
  }
}, 60_000);

test("a disabled client's tokens stop working, and work again when it is enabled", async () => {
  const okta = await vigilCli<ClientOut>(stack.env, ['client', 'create', '--name', 'Okta', '--grant-type', 'client_credentials', '--allow-resource', scim, '--scope', 'scim']);
  const { token } = await vigilCli<TokenOut>(stack.env, ['scim-token', 'create', '--client', okta.client_id]);
  expect((await scimStatus(token)).status).toBe(200);
  expect((await jsonCall(stack.adminApi, 'POST', `/clients/${okta.client_id}/disable`, stack.tokens.admin, { reason: 'offboarded' })).status).toBe(200);
  expect((await scimStatus(token)).status).toBe(401);
  const refused = await runScript('src/cli.ts', ['scim-token', 'create', '--client', okta.client_id], stack.env);
  expect({ code: refused.code, stderr: refused.stderr }).toEqual({ code: 2, stderr: `vigil: no enabled client with id ${okta.client_id}\n` });
  expect((await jsonCall(stack.adminApi, 'POST', `/clients/${okta.client_id}/enable`, stack.tokens.admin, { reason: 'back' })).status).toBe(200);
  expect((await scimStatus(token)).status).toBe(200);
}, 60_000);

test('the CLI refuses a client that may not provision, a bad expiry and an unknown id, and stores nothing', async () => {
  const wiki = await vigilCli<ClientOut>(stack.env, ['client', 'create', '--name', 'Wiki', '--grant-type', 'client_credentials',
    '--allow-resource', `${stack.vigil.issuer}/ssf`, '--scope', 'ssf:stream']);
  const before = await queryDatabase<{ n: number }>(stack.db.url, 'SELECT count(*)::int AS n FROM scim_tokens');
  const cases: Array<[string[], RegExp]> = [
    [['--client', wiki.client_id], /is not a provisioning client: .*"scim" scope/],
    [['--client', 'no-such-client'], /no enabled client with id no-such-client/],
    [['--client', provisioner.client_id, '--expires-in', '731'], /--expires-in must be a whole number from 1 to 730/],
    [['--client', provisioner.client_id, '--expires-in', '0'], /--expires-in must be a whole number from 1 to 730/],
    [[], /--client is required/],
  ];
  for (const [args, message] of cases) {
    const result = await runScript('src/cli.ts', ['scim-token', 'create', ...args], stack.env);
    expect({ args, code: result.code, stdout: result.stdout }).toEqual({ args, code: 2, stdout: '' });
    expect(result.stderr).toMatch(message);
  }
  const revoke = await runScript('src/cli.ts', ['scim-token', 'revoke', 'nope'], stack.env);
  expect({ code: revoke.code, stderr: revoke.stderr }).toEqual({ code: 2, stderr: 'vigil: no provisioning token with id nope\n' });
  expect(await queryDatabase<{ n: number }>(stack.db.url, 'SELECT count(*)::int AS n FROM scim_tokens')).toEqual(before);
}, 60_000);

test('refused provisioning tokens count against the refused-token limit of the address', async () => {
  const statuses: number[] = [];
  for (let i = 0; i < REFUSALS && !statuses.includes(429); i++) statuses.push((await scimStatus(`vgs_${'B'.repeat(43)}`)).status);
  expect(statuses.at(-1)).toBe(429);
  expect(new Set(statuses.slice(0, -1))).toEqual(new Set([401]));
}, 30_000);
