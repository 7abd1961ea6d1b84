/**
 * The access policy (Cedar) at the token endpoint, as a native app sees it: a refresh from a registered device
 * that turned non-compliant loses the scope and the role the policy guards, and gets them back once the device
 * is compliant again; a bad policy file at SIGHUP is refused and the policy in force keeps deciding.
 */
import { copyFileSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import * as oidc from 'openid-client';
import { generateKeyPair } from 'jose';
import { freePort, hangUp, ROOT, runScript, tempDir, vigilCli, type VigilProcess } from '../support/vigil-process.ts';
import { startStack, type ClientOut, type Stack } from '../support/stack.ts';
import {
  COMPLIANT_POSTURE, devicesToken, refreshWithDpop, registerDevice, reportPosture, signInWithDpop, type AppSession, type KeyPair, type Person,
} from '../support/dpop-device.ts';

const GUARD = `@id("email-needs-compliant-device")
forbid (principal, action == Action::"receive_scope", resource == Scope::"email")
when { context.device.registered && !context.device.compliant };

// At the code exchange the app's key is not registered yet: its tokens never carry "profile".
@id("profile-needs-registered-device")
forbid (principal, action == Action::"receive_scope", resource == Scope::"profile")
unless { context.device.registered };

@id("admin-role-needs-compliant-device")
forbid (principal, action == Action::"receive_role", resource == Role::"admin")
when { context.device.registered && !context.device.compliant };
`;

let stack: Stack;
let vigil: VigilProcess;
let person: Person;
let app: ClientOut;
let policyDir: string;

beforeAll(async () => {
  policyDir = join(tempDir(), 'access-policy');
  mkdirSync(policyDir);
  copyFileSync(join(ROOT, 'config/policy/default.cedar'), join(policyDir, 'default.cedar'));
  writeFileSync(join(policyDir, 'guard.cedar'), GUARD);
  // The risk engine lets the non-compliant device's refreshes through: here the access policy decides.
  const riskPolicy = JSON.parse(readFileSync(join(ROOT, 'config/risk-policy.json'), 'utf8'));
  riskPolicy.refresh = { thresholds: [{ minScore: 100, decision: { action: 'revoke' } }], signals: {} };
  const riskFile = join(tempDir(), 'risk-policy.json');
  writeFileSync(riskFile, JSON.stringify(riskPolicy));
  stack = await startStack({ VIGIL_RISK_POLICY: riskFile, VIGIL_ACCESS_POLICY: policyDir });
  vigil = stack.vigil;
  person = { issuer: vigil.issuer, email: 'ada@vigil.test', password: 'correct horse battery staple 9', redirectUri: `http://127.0.0.1:${await freePort()}/cb` };
  [, app] = await Promise.all([
    vigilCli(stack.env, ['user', 'create', '--email', person.email, '--password', person.password, '--name', 'Ada', '--role', 'admin', '--role', 'staff']),
    vigilCli<ClientOut>(stack.env, ['client', 'create', '--name', 'Notes app', '--public', '--redirect-uri', person.redirectUri]),
  ]);
}, 120_000);

afterAll(() => stack?.stop());

const scopesOf = (tokens: { scope?: string }) => (tokens.scope ?? '').split(' ').sort();

async function withheldEntries(): Promise<{ details: Record<string, unknown> }[]> {
  // Denials are audited through the batched queue, off the response path.
  await new Promise((resolve) => setTimeout(resolve, 700));
  const db = new pg.Client({ connectionString: stack.db.url });
  await db.connect();
  try {
    return (await db.query("SELECT details FROM audit_log WHERE action = 'access_policy.withheld' ORDER BY seq")).rows;
  } finally {
    await db.end();
  }
}

let keys: KeyPair;
let session: AppSession;
let deviceId: string;

test('a refresh from a non-compliant device loses the guarded scope and role, audited and counted; compliant again, it gets them back', async () => {
  keys = await generateKeyPair('ES256', { extractable: true });
  session = await signInWithDpop(person, app, keys, 'openid offline_access email profile');
  // The code exchange: "profile" withheld from every token made from the code, the refresh token included.
  expect(scopesOf(session.tokens)).toEqual(['email', 'offline_access', 'openid']);
  expect(session.tokens.claims()).toMatchObject({ email: person.email, roles: ['admin', 'staff'] });
  expect(session.tokens.claims()?.name).toBeUndefined();
  deviceId = await registerDevice(person.issuer, await devicesToken(person, app), keys, 'Ada\'s phone');
  expect((await reportPosture(person.issuer, deviceId, keys, COMPLIANT_POSTURE)).compliant).toBe(true);

  const compliant = await refreshWithDpop(session);
  expect(scopesOf(compliant)).toEqual(['email', 'offline_access', 'openid']);
  expect(compliant.claims()).toMatchObject({ email: person.email, roles: ['admin', 'staff'] });

  expect((await reportPosture(person.issuer, deviceId, keys, { ...COMPLIANT_POSTURE, diskEncryption: false })).compliant).toBe(false);
  const narrowed = await refreshWithDpop(session);
  expect(scopesOf(narrowed)).toEqual(['offline_access', 'openid']);
  expect(narrowed.claims()?.email).toBeUndefined();
  expect(narrowed.claims()?.roles).toEqual(['staff']);
  // Userinfo with that access token tells no more than the token carries.
  const info = await oidc.fetchUserInfo(session.config, narrowed.access_token, oidc.skipSubjectCheck, { DPoP: session.dpop });
  expect(info.roles).toEqual(['staff']);

  const entries = await withheldEntries();
  expect(entries).toHaveLength(2);
  expect(entries[0].details).toMatchObject({
    grantType: 'authorization_code', outcome: 'narrowed', withheldScopes: [{ scope: 'profile', determining: ['profile-needs-registered-device'] }],
  });
  expect(entries[1].details).toMatchObject({
    grantType: 'refresh_token', outcome: 'narrowed',
    withheldScopes: [{ scope: 'email', determining: ['email-needs-compliant-device'] }],
    withheldRoles: [{ role: 'admin', determining: ['admin-role-needs-compliant-device'] }],
  });
  const metrics = await (await fetch(`${vigil.issuer}/metrics`)).text();
  expect(metrics).toMatch(/vigil_access_policy_decisions_total\{grant_type="refresh_token",outcome="narrowed"\} 1\b/);
  expect(metrics).toMatch(/vigil_access_policy_decisions_total\{grant_type="authorization_code",outcome="narrowed"\} 1\b/);

  // The refresh token kept what Ada consented to: the device fixed, the scope and the role come back.
  await reportPosture(person.issuer, deviceId, keys, COMPLIANT_POSTURE);
  const restored = await refreshWithDpop(session);
  expect(scopesOf(restored)).toEqual(['email', 'offline_access', 'openid']);
  expect(restored.claims()?.roles).toEqual(['admin', 'staff']);
});

test('a bad policy file at SIGHUP is refused naming its line, the policy in force keeps deciding; a good one takes over', async () => {
  writeFileSync(join(policyDir, 'typo.cedar'), '// a typo\nforbid (principal, action, resource)\nwhen { context.device.compliantt };\n');
  const log = await hangUp(vigil, 'reload refused');
  expect(log).toMatch(/VIGIL_ACCESS_POLICY: invalid access policy: [^"]*typo\.cedar:3:8: .*compliantt/);

  await reportPosture(person.issuer, deviceId, keys, { ...COMPLIANT_POSTURE, firewall: false });
  expect(scopesOf(await refreshWithDpop(session))).toEqual(['offline_access', 'openid']);

  // A policy that refuses the refresh outright instead of narrowing it.
  rmSync(join(policyDir, 'typo.cedar'));
  writeFileSync(join(policyDir, 'guard.cedar'), GUARD.replace('@id("email-needs-compliant-device")', '@id("email-needs-compliant-device")\n@refuse'));
  await hangUp(vigil, 'reloaded the risk policy');
  await expect(refreshWithDpop(session)).rejects.toMatchObject({
    error: 'invalid_grant', error_description: expect.stringMatching(/access policy does not allow this token now \(withheld: email\)/),
  });
  const last = (await withheldEntries()).at(-1)!;
  expect(last.details).toMatchObject({ outcome: 'refused', refusedBy: ['email-needs-compliant-device'] });
});

describe('vigil policy test', () => {
  const request = (device: { registered: boolean; compliant: boolean }, expect: 'allow' | 'deny') => ({
    name: `email with ${JSON.stringify(device)}`,
    principal: { type: 'Person', id: 'ada', attrs: { email: 'ada@vigil.test', email_verified: true, roles: [] } },
    action: { type: 'Action', id: 'receive_scope' },
    resource: { type: 'Scope', id: 'email' },
    context: {
      grant_type: 'refresh_token', client: { id: 'notes', sensitive: false, first_party: false, admin_tool: false },
      risk: { assessed: true, level: 'low', score: 0, signals: [] }, device: { ...device, id: 'd1', stale: false },
      acr: '', amr: ['pwd'], network_tags: [], time: { hour: 9, weekday: 1, epoch: 1_700_000_000 },
    },
    expect,
  });
  const run = (fixture: unknown[]) => {
    const file = join(tempDir(), 'fixture.json');
    writeFileSync(file, JSON.stringify(fixture));
    return runScript('src/cli.ts', ['policy', 'test', file, '--policy', join(ROOT, 'config/policy/default.cedar'), '--policy', join(policyDir, 'guard.cedar')], {});
  };

  test('passes (exit 0) when every expectation holds', async () => {
    const result = await run([request({ registered: true, compliant: true }, 'allow'), request({ registered: true, compliant: false }, 'deny')]);
    expect(result).toMatchObject({ code: 0, stdout: expect.stringContaining('2 passed, 0 failed') });
  });

  test('fails (exit 1) on a wrong expectation, naming it and the determining policy', async () => {
    const result = await run([request({ registered: true, compliant: true }, 'allow'), request({ registered: true, compliant: false }, 'allow')]);
    expect(result.code).toBe(1);
    expect(result.stdout).toContain('FAIL email with {"registered":true,"compliant":false}: expected allow, got deny (determining: email-needs-compliant-device)');
    expect(result.stdout).toContain('1 passed, 1 failed');
  });
});
