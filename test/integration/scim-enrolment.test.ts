import { startAdminApiStack, type AdminApiStack } from '../support/admin-api-stack.ts';
import { clientCredentialsToken, jsonCall } from '../support/json-api.ts';
import { Authenticator } from '../support/authenticator.ts';
import { Browser, formAction, hiddenField } from '../support/browserless.ts';
import { startMailbox, type Mailbox } from '../support/mailbox.ts';
import type { ClientOut } from '../support/stack.ts';
import { vigilCli } from '../support/vigil-process.ts';

/**
 * A person provisioned through SCIM has no way to sign in: Vigil mails them a single-use
 * enrolment link that opens the invitation pages and enrols factors on the existing account.
 * The link is refused once used, and once the account is deactivated.
 */

const USER = 'urn:ietf:params:scim:schemas:core:2.0:User';
const PATCH_OP = 'urn:ietf:params:scim:api:messages:2.0:PatchOp';
const LINK = /http:\/\/\S+\/invitation\/[A-Za-z0-9_-]{43}/;

let mail: Mailbox;
let stack: AdminApiStack;
let provisioner: ClientOut;
let scim: string;
let token: string;

beforeAll(async () => {
  mail = await startMailbox();
  stack = await startAdminApiStack('SCIM enrolment admin tool', mail.env);
  scim = `${stack.vigil.issuer}/scim/v2`;
  provisioner = await vigilCli<ClientOut>(stack.env, ['client', 'create', '--name', 'Okta', '--grant-type', 'client_credentials', '--allow-resource', scim, '--scope', 'scim']);
  token = await clientCredentialsToken(stack.vigil.issuer, provisioner, scim, 'scim');
}, 120_000);

afterAll(async () => {
  await stack?.stop();
  await mail?.stop();
});

const call = (method: string, path: string, body?: unknown) => jsonCall(scim, method, path, token, body);
const setActive = (id: string, active: boolean) => call('PATCH', `/Users/${id}`, { schemas: [PATCH_OP], Operations: [{ op: 'Replace', path: 'active', value: active ? 'True' : 'False' }] });

async function provision(userName: string, extra: Record<string, unknown> = {}): Promise<string> {
  const res = await call('POST', '/Users', { schemas: [USER], userName, displayName: userName.split('@')[0], ...extra });
  expect(res.status).toBe(201);
  return res.body.id;
}

test('a provisioned person gets a link, enrols a password and an authenticator app on that account, and signs in at 2fa; the link works once', async () => {
  const id = await provision('ada@vigil.test', { name: { givenName: 'Ada', familyName: 'Lovelace' } });
  const { mail: received, link } = mail.lastTo('ada@vigil.test', LINK);
  expect(received.subject).toBe('Set up how you sign in with Vigil');
  expect(received.text).toContain('An account (ada@vigil.test) was made for you');
  // Only the token's hash is stored.
  const stored = await stack.core.stores.sql.query<Record<string, unknown>>(`SELECT * FROM email_links WHERE account_id = $1 AND kind = 'enrolment'`, [id]);
  expect(stored.rows).toHaveLength(1);
  expect(JSON.stringify(stored.rows[0])).not.toContain(link.split('/').pop()!);

  const browser = new Browser();
  let page = await browser.request(link);
  expect(page.status).toBe(200);
  expect(page.body).toContain('An account was made for you as');
  page = await browser.submit(page, formAction(page.body, '/password'), { csrf: hiddenField(page.body, 'csrf'), password: 'ada password 1234', confirm: 'ada password 1234' });
  expect(page.status).toBe(200);
  const app = new Authenticator(/id="totp-secret">([^<]+)</.exec(page.body)![1].replace(/\s/g, ''));
  const totp = { action: formAction(page.body, '/totp'), csrf: hiddenField(page.body, 'csrf') };
  page = await browser.submit(page, totp.action, { csrf: totp.csrf, code: '000000' });
  expect(page.status).toBe(400);
  expect((await stack.core.accounts.findForLogin('ada@vigil.test'))?.passwordHash).toBeNull();
  page = await browser.submit(page, totp.action, { csrf: totp.csrf, code: await app.next() });
  expect(page.status).toBe(200);
  expect(page.body).toContain('Your account is ready');
  expect(page.body.match(/<li>[a-z0-9]{5}-[a-z0-9]{5}<\/li>/g)).toHaveLength(10);

  // The factors are on the provisioned account: no other was made.
  expect(await stack.core.accounts.findByEmail('ada@vigil.test')).toMatchObject({ id, emailVerified: true, disabled: false });
  expect(await stack.core.totp.isEnrolled(id)).toBe(true);
  const tokens = await stack.personTokens('ada@vigil.test', 'ada password 1234', { totp: app, scope: 'openid', resource: `${stack.vigil.issuer}/devices`, acr: 'urn:vigil:acr:2fa' });
  expect(tokens.claims()).toMatchObject({ sub: id, acr: 'urn:vigil:acr:2fa' });

  // Used: refused on GET and POST alike.
  const again = await new Browser().request(link);
  expect(again.status).toBe(410);
  expect(again.body).toContain('already been used');
  expect((await browser.submit(again, totp.action, { csrf: totp.csrf, code: await app.next() })).status).toBe(410);

  // Reactivating an account that has its factors sends nothing.
  const before = mail.to('ada@vigil.test').length;
  expect((await setActive(id, false)).status).toBe(200);
  expect((await setActive(id, true)).status).toBe(200);
  expect(mail.to('ada@vigil.test')).toHaveLength(before);

  const audited = await stack.core.stores.sql.query<{ action: string; actor: string; outcome: string }>(
    `SELECT action, actor, outcome FROM audit_log WHERE subject = $1 AND action LIKE 'account.enrol%' ORDER BY seq`, [id]);
  expect(audited.rows).toEqual([
    { action: 'account.enrolment.mailed', actor: provisioner.client_id, outcome: 'success' },
    { action: 'account.enrolment', actor: id, outcome: 'failure' },
    { action: 'account.enrolled', actor: id, outcome: 'success' },
  ]);
});

test('a deactivated person\'s link is refused; reactivation mails a new one and the old stays dead; an inactive create mails nothing', async () => {
  const id = await provision('bob@vigil.test');
  const { link: first } = mail.lastTo('bob@vigil.test', LINK);
  expect((await setActive(id, false)).status).toBe(200);
  const browser = new Browser();
  const refused = await browser.request(first);
  expect(refused.status).toBe(404);
  expect(refused.body).toContain('not valid');

  expect((await setActive(id, true)).status).toBe(200);
  const { link: second } = mail.lastTo('bob@vigil.test', LINK);
  expect(second).not.toBe(first);
  expect((await browser.request(first)).status).toBe(404);
  const page = await browser.request(second);
  expect(page.status).toBe(200);
  // Deactivated between opening the page and enrolling: nothing is stored.
  expect((await setActive(id, false)).status).toBe(200);
  const post = await browser.submit(page, formAction(page.body, '/password'), { csrf: hiddenField(page.body, 'csrf'), password: 'bob password 1234', confirm: 'bob password 1234' });
  expect(post.status).toBe(404);
  expect((await stack.core.accounts.findForLogin('bob@vigil.test'))?.passwordHash).toBeNull();

  await provision('carol@vigil.test', { active: false });
  expect(mail.to('carol@vigil.test')).toHaveLength(0);
});
