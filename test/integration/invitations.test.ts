import { startAdminApiStack, type AdminApiStack } from '../support/admin-api-stack.ts';
import { jsonCall } from '../support/json-api.ts';
import { Authenticator } from '../support/authenticator.ts';
import { Browser, formAction, hiddenField, type Page } from '../support/browserless.ts';
import { runScript, startVigil } from '../support/vigil-process.ts';
import { ConfigError, loadConfig } from '../../src/config/index.ts';
import { resolveCommand, runCommand } from '../../src/cli/run.ts';
import { startMailbox, type Mailbox } from '../support/mailbox.ts';

/**
 * Invitations over HTTP: an administrator invites through the admin API (and the CLI); the mail
 * arrives at an SMTP server in this process; the person follows the link and enrols with a
 * password and an authenticator app; bad links, bad input and the wrong callers are refused
 * with nothing stored.
 */

let mail: Mailbox;
let stack: AdminApiStack;
const INVITATION_LINK = /http:\/\/\S+\/invitation\/[A-Za-z0-9_-]{43}/;

beforeAll(async () => {
  mail = await startMailbox();
  stack = await startAdminApiStack('Invitations admin tool', { ...mail.env, VIGIL_LOGIN_MAX_FAILURES_PER_IP: '12' });
}, 120_000);

afterAll(async () => {
  await stack?.stop();
  await mail?.stop();
});

const cli = (args: string[]) => runScript('src/cli.ts', args, stack.env);
const api = (method: string, path: string, token: string | undefined, body?: unknown) => jsonCall(stack.adminApi, method, path, token, body);

const mailTo = (to: string) => mail.lastTo(to, INVITATION_LINK);

const count = async (sql: string, params: unknown[] = []) => Number((await stack.core.stores.sql.query<{ n: string }>(sql, params)).rows[0].n);
const invitationsOf = (email: string) => count('SELECT count(*) AS n FROM invitations WHERE lower(email) = lower($1)', [email]);

async function invite(email: string, extra: Record<string, unknown> = {}) {
  const res = await api('POST', '/invitations', stack.tokens.admin, { email, ...extra });
  expect(res.status).toBe(201);
  return { invitation: res.body, ...mailTo(email) };
}

async function open(link: string): Promise<Page> {
  return new Browser().request(link);
}

test('an administrator invites through the API: the mail has a single-use link, stored only as its hash; opening it uses nothing', async () => {
  const { invitation, mail: received, link } = await invite('ada@vigil.test', { name: 'Ada Lovelace', roles: ['auditor'], reason: 'new auditor' });
  expect(invitation).toMatchObject({ email: 'ada@vigil.test', name: 'Ada Lovelace', roles: ['auditor'], status: 'pending', invitedBy: stack.ids.root, usedAt: null, accountId: null });
  expect(new Date(invitation.expiresAt).getTime() - Date.now()).toBeGreaterThan(71 * 3600_000);
  expect(received.subject).toBe('You are invited to sign in with Vigil');
  expect(received.text).toContain('Hello Ada Lovelace');
  expect(link.startsWith(`${stack.vigil.issuer}/invitation/`)).toBe(true);

  // Stored as its hash: the token itself is nowhere in the row.
  const token = link.split('/').pop()!;
  const { rows } = await stack.core.stores.sql.query<Record<string, unknown>>('SELECT * FROM invitations WHERE id = $1', [invitation.id]);
  expect(JSON.stringify(rows[0])).not.toContain(token);

  // A mail scanner's GET, then the person's: both see the page; no account yet.
  for (let i = 0; i < 2; i++) {
    const page = await open(link);
    expect(page.status).toBe(200);
    expect(page.body).toContain('Set up your account');
    expect(page.body).toContain('ada@vigil.test');
  }
  const res = await fetch(link);
  expect(res.headers.get('referrer-policy')).toBe('no-referrer');
  expect(await stack.core.accounts.findByEmail('ada@vigil.test')).toBeUndefined();

  const listed = await api('GET', '/invitations', stack.tokens.auditor);
  expect(listed.status).toBe(200);
  expect(listed.body.items.map((i: { id: string }) => i.id)).toContain(invitation.id);
  const audited = await stack.core.stores.sql.query<{ outcome: string; actor: string }>(
    `SELECT outcome, actor FROM audit_log WHERE action = 'admin.invitation.create' AND subject = $1`, [invitation.id]);
  expect(audited.rows).toEqual([{ outcome: 'success', actor: stack.ids.root }]);
});

test('the person chooses a password and an authenticator app; the link is then used; the account signs in with both', async () => {
  const { link } = await invite('grace@vigil.test', { name: 'Grace', roles: ['dev'] });
  const browser = new Browser();
  let page = await browser.request(link);
  const csrf = hiddenField(page.body, 'csrf');
  const passwordAction = formAction(page.body, '/password');

  // Bad input: the page again with the reason; nothing stored.
  page = await browser.submit(page, passwordAction, { csrf, password: 'short', confirm: 'short' });
  expect(page.status).toBe(400);
  expect(page.body).toContain('The password must be at least 12 characters.');
  page = await browser.submit(page, passwordAction, { csrf, password: 'grace password 123', confirm: 'grace password 124' });
  expect(page.status).toBe(400);
  expect(page.body).toContain('The two passwords are not the same');
  page = await browser.submit(page, passwordAction, { csrf: 'forged', password: 'grace password 123', confirm: 'grace password 123' });
  expect(page.status).toBe(403);
  expect(await stack.core.accounts.findByEmail('grace@vigil.test')).toBeUndefined();

  page = await browser.submit(page, passwordAction, { csrf, password: 'grace password 123', confirm: 'grace password 123' });
  expect(page.status).toBe(200);
  expect(page.body).toContain('Set up an authenticator app');
  const app = new Authenticator(/id="totp-secret">([^<]+)</.exec(page.body)![1].replace(/\s/g, ''));
  const totpAction = formAction(page.body, '/totp');
  const totpCsrf = hiddenField(page.body, 'csrf');

  page = await browser.submit(page, totpAction, { csrf: totpCsrf, code: '000000' });
  expect(page.status).toBe(400);
  expect(page.body).toContain('That code is not correct');
  expect(await stack.core.accounts.findByEmail('grace@vigil.test')).toBeUndefined();

  page = await browser.submit(page, totpAction, { csrf: totpCsrf, code: await app.next() });
  expect(page.status).toBe(200);
  expect(page.body).toContain('Your account is ready');
  expect(page.body.match(/<li>[a-z0-9]{5}-[a-z0-9]{5}<\/li>/g)).toHaveLength(10);

  const account = await stack.core.accounts.findByEmail('grace@vigil.test');
  // Using the emailed link proved the address.
  expect(account).toMatchObject({ displayName: 'Grace', roles: ['dev'], disabled: false, emailVerified: true });
  expect(await stack.core.totp.isEnrolled(account!.id)).toBe(true);

  // Used: the link says so, on GET and POST alike, and nothing more is stored.
  const again = await open(link);
  expect(again.status).toBe(410);
  expect(again.body).toContain('This invitation has already been used');
  const replay = await browser.submit(again, totpAction, { csrf: totpCsrf, code: await app.next() });
  expect(replay.status).toBe(410);

  // The account signs in with its password and app at two factors.
  const tokens = await stack.personTokens('grace@vigil.test', 'grace password 123', { totp: app, scope: 'openid', resource: `${stack.vigil.issuer}/devices`, acr: 'urn:vigil:acr:2fa' });
  expect(tokens.claims()?.sub).toBe(account!.id);
  expect(tokens.claims()?.acr).toBe('urn:vigil:acr:2fa');

  const listed = await api('GET', '/invitations?status=all', stack.tokens.admin);
  expect(listed.body.items.find((i: { email: string }) => i.email === 'grace@vigil.test')).toMatchObject({ status: 'used', accountId: account!.id });
  const audited = await stack.core.stores.sql.query<{ action: string; outcome: string; details: { method?: string; reason?: string } }>(
    `SELECT action, outcome, details FROM audit_log WHERE actor = $1 AND action LIKE 'account.enrol%' ORDER BY seq`, [account!.id]);
  expect(audited.rows.map((r) => [r.action, r.outcome, r.details.method ?? r.details.reason])).toEqual([
    ['account.enrolment', 'failure', 'wrong_code'], ['account.enrolled', 'success', 'password+totp'],
  ]);
});

test('wrong authenticator-app codes are limited per invitation: past the limit even the right code is refused, and nothing is created', async () => {
  const { link } = await invite('guess@vigil.test');
  const browser = new Browser();
  let page = await browser.request(link);
  page = await browser.submit(page, formAction(page.body, '/password'), { csrf: hiddenField(page.body, 'csrf'), password: 'guess password 123', confirm: 'guess password 123' });
  const app = new Authenticator(/id="totp-secret">([^<]+)</.exec(page.body)![1].replace(/\s/g, ''));
  const totp = { action: formAction(page.body, '/totp'), csrf: hiddenField(page.body, 'csrf') };
  const statuses: number[] = [];
  for (let i = 0; i < 6; i++) statuses.push((await browser.submit(page, totp.action, { csrf: totp.csrf, code: '000000' })).status);
  expect(statuses).toEqual([400, 400, 400, 400, 400, 429]);
  const right = await browser.submit(page, totp.action, { csrf: totp.csrf, code: await app.next() });
  expect(right.status).toBe(429);
  expect(right.body).toContain('Too many attempts');
  expect(await stack.core.accounts.findByEmail('guess@vigil.test')).toBeUndefined();
});

test('revoked, expired, forged and cut links each say what they are, with a 4xx; nothing is created', async () => {
  const revoked = await invite('revoked@vigil.test');
  const expired = await invite('expired@vigil.test');

  const byAuditor = await api('POST', `/invitations/${revoked.invitation.id}/revoke`, stack.tokens.auditor, {});
  expect(byAuditor.status).toBe(403);
  const done = await api('POST', `/invitations/${revoked.invitation.id}/revoke`, stack.tokens.admin, { reason: 'wrong person' });
  expect(done.status).toBe(200);
  expect(done.body.status).toBe('revoked');
  expect((await api('POST', `/invitations/${revoked.invitation.id}/revoke`, stack.tokens.admin, {})).status).toBe(409);
  expect((await api('POST', '/invitations/inv_nope/revoke', stack.tokens.admin, {})).status).toBe(404);

  await stack.core.stores.sql.query(`UPDATE invitations SET expires_at = now() - interval '1 minute' WHERE id = $1`, [expired.invitation.id]);

  const cases: [string, number, string][] = [
    [revoked.link, 410, 'This invitation was withdrawn'],
    [expired.link, 410, 'This invitation has expired'],
    [`${stack.vigil.issuer}/invitation/${'A'.repeat(43)}`, 404, 'This invitation link is not valid'],
    [revoked.link.slice(0, -5), 404, 'This invitation link is not valid'],
    [`${stack.vigil.issuer}/invitation/%00%3Cscript%3E`, 404, 'This invitation link is not valid'],
  ];
  for (const [link, status, text] of cases) {
    const page = await open(link);
    expect({ link, status: page.status }).toEqual({ link, status });
    expect(page.body).toContain(text);
    // A form posted to it is refused the same way, and the passkey script gets JSON.
    const post = await fetch(`${link}/password`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'csrf=x&password=aaaaaaaaaaaaaa&confirm=aaaaaaaaaaaaaa' });
    expect(post.status).toBe(status);
    const json = await fetch(`${link}/passkey/options`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    expect(json.status).toBe(status);
    expect((await json.json()).error_description).toContain(text);
  }
  expect(await stack.core.accounts.findByEmail('revoked@vigil.test')).toBeUndefined();
  expect(await stack.core.accounts.findByEmail('expired@vigil.test')).toBeUndefined();

  // An expired invitation no longer holds its email: it can be invited again.
  const again = await invite('expired@vigil.test');
  expect(again.invitation.status).toBe('pending');

  // Long expired (or used, or revoked): gone at the purge; a pending one stays.
  await stack.core.stores.sql.query(`UPDATE invitations SET expires_at = now() - interval '91 days' WHERE id IN ($1, $2)`, [expired.invitation.id, revoked.invitation.id]);
  expect(await stack.core.invitations.purge()).toBe(2);
  expect(await stack.core.invitations.find(revoked.invitation.id)).toBeUndefined();
  expect((await stack.core.invitations.find(again.invitation.id))?.status).toBe('pending');
});

test('refused invitations store nothing and send nothing: existing account, open invitation, bad input, callers without the admin role', async () => {
  await invite('twice@vigil.test');
  const mails = mail.received.length;
  const before = await count('SELECT count(*) AS n FROM invitations');
  const refusals: [string | undefined, unknown, number, string][] = [
    [stack.tokens.admin, { email: 'norm@vigil.test' }, 409, 'an account with norm@vigil.test already exists'],
    [stack.tokens.admin, { email: 'NORM@vigil.test' }, 409, 'already exists'],
    [stack.tokens.admin, { email: 'twice@vigil.test' }, 409, 'already has an invitation waiting'],
    [stack.tokens.admin, { email: 'not an email' }, 400, 'email: not a valid address'],
    [stack.tokens.admin, { email: 'x@vigil.test', roles: ['Admin!'] }, 400, 'role'],
    [stack.tokens.admin, { email: 'x@vigil.test', password: 'nope' }, 400, 'password'],
    [stack.tokens.admin, { email: 'x@vigil.test', name: 'a\u0000b' }, 400, 'name'],
    [stack.tokens.auditor, { email: 'x@vigil.test' }, 403, 'auditors may read only'],
    [stack.tokens.normal, { email: 'x@vigil.test' }, 403, 'does not give access'],
    [undefined, { email: 'x@vigil.test' }, 401, 'access token'],
  ];
  for (const [token, body, status, text] of refusals) {
    const res = await api('POST', '/invitations', token, body);
    expect({ body, status: res.status }).toEqual({ body, status });
    expect(res.body.error_description).toContain(text);
  }
  const notJson = await fetch(`${stack.adminApi}/invitations`, { method: 'POST', headers: { authorization: `Bearer ${stack.tokens.admin}`, 'content-type': 'text/plain' }, body: 'email=x' });
  expect(notJson.status).toBe(415);
  expect((await api('GET', '/invitations', stack.tokens.normal)).status).toBe(403);
  expect((await api('GET', '/invitations?status=nope', stack.tokens.admin)).status).toBe(400);

  expect(await count('SELECT count(*) AS n FROM invitations')).toBe(before);
  expect(await invitationsOf('x@vigil.test')).toBe(0);
  expect(mail.received.length).toBe(mails);
  const denied = await count(`SELECT count(*) AS n FROM audit_log WHERE action = 'admin.invitation.create' AND outcome = 'denied'`);
  expect(denied).toBe(1);
});

test('vigil user invite / invitation list / invitation revoke: the same invitations, the CLI\'s output, --json and exit codes', async () => {
  // The real CLI for the first and the last; the rest through the same commands in this process (as the control channel runs them).
  const made = await cli(['user', 'invite', 'cli@vigil.test', '--name', 'Cli Person', '--role', 'dev', '--json']);
  expect(made.code).toBe(0);
  const invitation = JSON.parse(made.stdout);
  expect(invitation).toMatchObject({ email: 'cli@vigil.test', name: 'Cli Person', roles: ['dev'], status: 'pending', invitedBy: 'cli' });
  expect(mailTo('cli@vigil.test').link).toContain('/invitation/');

  const run = (argv: string[]) => {
    const command = resolveCommand(argv)!;
    return runCommand(stack.core, command.name, command.rest);
  };
  const taken = await run(['user', 'invite', 'cli@vigil.test']);
  expect(taken).toMatchObject({ exitCode: 1, stdout: '' });
  expect(taken.stderr).toContain('already has an invitation waiting');
  expect(await run(['user', 'invite', 'norm@vigil.test'])).toMatchObject({ exitCode: 1, stderr: expect.stringContaining('an account with norm@vigil.test already exists') });
  expect(await run(['user', 'invite', 'nope'])).toMatchObject({ exitCode: 1, stderr: expect.stringContaining('email: not a valid address') });
  expect(await run(['user', 'invite'])).toMatchObject({ exitCode: 2, stderr: expect.stringContaining('give the email to invite') });
  expect(await run(['user', 'invite', 'a@vigil.test', 'b@vigil.test'])).toMatchObject({ exitCode: 2 });
  expect(await invitationsOf('nope')).toBe(0);

  const revoked = await run(['invitation', 'revoke', invitation.id, '--json']);
  expect(revoked.exitCode).toBe(0);
  expect(JSON.parse(revoked.stdout).status).toBe('revoked');
  expect(await run(['invitation', 'revoke', invitation.id])).toMatchObject({ exitCode: 1, stderr: expect.stringContaining('is revoked, not pending') });
  expect(await run(['invitation', 'revoke', 'inv_00000000-0000-0000-0000-000000000000'])).toMatchObject({ exitCode: 2, stderr: expect.stringContaining('no invitation with id') });

  const list = await cli(['invitation', 'list', '--all']);
  expect(list.code).toBe(0);
  expect(list.stdout).toMatch(new RegExp(`cli@vigil\\.test\\s+revoked\\s+.*${invitation.id}`));
  expect((await run(['invitation', 'list'])).stdout).not.toContain('cli@vigil.test');
}, 60_000);

test('with VIGIL_ENROLMENT_REQUIRE_SECOND_FACTOR=false a password alone will do; of two enrolments racing on one link, one wins', async () => {
  // A second instance on the same database with the policy off (its mail links name the first's issuer).
  const relaxed = await startVigil({ ...stack.env, VIGIL_ENROLMENT_REQUIRE_SECOND_FACTOR: 'false' });
  try {
    const { link } = await invite('pat@vigil.test');
    const here = `${relaxed.url}${new URL(link).pathname}`;
    const page = await open(here);
    expect(page.body).not.toContain('authenticator app');
    const csrf = hiddenField(page.body, 'csrf');
    const post = () => fetch(`${here}/password`, {
      method: 'POST', redirect: 'manual', headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'text/html' },
      body: new URLSearchParams({ csrf, password: 'pat password 1234', confirm: 'pat password 1234' }),
    }).then(async (r) => ({ status: r.status, body: await r.text() }));
    const answers = await Promise.all([post(), post()]);
    expect(answers.map((a) => a.status).sort()).toEqual([200, 410]);
    expect(answers.find((a) => a.status === 200)!.body).toContain('Your account is ready');
    expect(answers.find((a) => a.status === 410)!.body).toContain('This invitation has already been used');
    const account = await stack.core.accounts.findForLogin('pat@vigil.test');
    expect(account?.passwordHash).toMatch(/^\$argon2id\$/);
    expect(await stack.core.totp.isEnrolled(account!.account.id)).toBe(false);
    // The account signs in with its password alone.
    const tokens = await stack.personTokens('pat@vigil.test', 'pat password 1234', { scope: 'openid', resource: `${stack.vigil.issuer}/devices` });
    expect(tokens.claims()?.sub).toBe(account!.account.id);
  } finally {
    await relaxed.stop();
  }
}, 60_000);

test('the settings are checked at start, naming the setting', () => {
  expect(loadConfig({}, '/nonexistent').VIGIL_INVITATION_TTL_HOURS).toBe(72);
  expect(loadConfig({}, '/nonexistent').VIGIL_ENROLMENT_REQUIRE_SECOND_FACTOR).toBe(true);
  expect(() => loadConfig({ VIGIL_INVITATION_TTL_HOURS: '0' }, '/nonexistent')).toThrow(ConfigError);
  expect(() => loadConfig({ VIGIL_INVITATION_TTL_HOURS: 'soon' }, '/nonexistent')).toThrow(/VIGIL_INVITATION_TTL_HOURS/);
  expect(() => loadConfig({ VIGIL_ENROLMENT_REQUIRE_SECOND_FACTOR: 'maybe' }, '/nonexistent')).toThrow(/VIGIL_ENROLMENT_REQUIRE_SECOND_FACTOR/);
});

test('links that lead nowhere are rate-limited per address', async () => {
  let last = 0;
  for (let i = 0; i < 15 && last !== 429; i++) last = (await open(`${stack.vigil.issuer}/invitation/${'B'.repeat(42)}${i % 10}`)).status;
  expect(last).toBe(429);
});
