/**
 * Invitations in a real browser (issue 18): an administrator signed in to the console with a
 * passkey invites a person with the form; the person opens the link from the mail the in-process
 * SMTP server received, creates a passkey with Chromium's virtual authenticator, is shown recovery
 * codes, then signs in to the relying party with the passkey alone. A revoked invitation's link
 * says so. WebAuthn refuses IP addresses as RP IDs, so every page is http://localhost.
 */
import { vigilCli } from '../support/vigil-process.ts';
import { ADMIN, discover, pkceAuthorization, type ClientOut } from '../support/stack.ts';
import * as oidc from 'openid-client';
import { openBrowserSession, untilRelyingParty, type BrowserSession } from '../support/chromium.ts';
import { startBrowserStack, type BrowserStack } from '../support/browser-stack.ts';
import { registerPasskey, stepUpIntoConsole } from '../support/admin-console.ts';
import { startMailbox, type Mailbox } from '../support/mailbox.ts';
import { clientCredentialsToken, jsonCall } from '../support/json-api.ts';

const TEST_TIMEOUT = 90_000;
const INVITATION_LINK = /http:\/\/localhost:\d+\/invitation\/[A-Za-z0-9_-]{43}/;
const cspErrors = (errors: string[]) => errors.filter((e) => /Content Security Policy/i.test(e));

let mail: Mailbox;
let stack: BrowserStack;
let origin: string;
let web: ClientOut;
let admin: BrowserSession;
/** The invited person's browser and the application's tokens from their passkey sign-in (the story goes on in a later test). */
let lin: BrowserSession | undefined;
let linApp: { config: oidc.Configuration; refreshToken: string } | undefined;

const open = (name: string) => openBrowserSession(stack.browser, `invitation-${name}`, { afterClose: (errors) => expect(cspErrors(errors)).toEqual([]) });

/** Fills and sends the console's invitation form; the accounts page it leads to. */
async function inviteFromConsole(email: string, name: string) {
  const { page } = admin;
  await page.goto(`${origin}/admin/accounts`);
  await page.click('#invite-someone');
  await page.locator('#invitation-form').waitFor();
  await page.fill('#email', email);
  await page.fill('#name', name);
  await page.fill('#reason', 'joins the team');
  await Promise.all([page.waitForURL((u) => u.searchParams.get('done') === 'invitation-sent'), page.click('#send-invitation')]);
}

beforeAll(async () => {
  mail = await startMailbox();
  stack = await startBrowserStack(mail.env);
  origin = stack.vigil.issuer;
  web = await vigilCli(stack.env, ['client', 'create', '--name', 'Web App', '--redirect-uri', stack.redirectUri, '--grant-type', 'authorization_code', '--grant-type', 'refresh_token']);
  admin = await open('admin');
  await registerPasskey(admin, origin, ADMIN.email, ADMIN.password);
  await stepUpIntoConsole(admin, origin);
}, 120_000);

afterAll(async () => {
  await lin?.close();
  await admin?.close();
  await stack?.stop();
  await mail?.stop();
}, 60_000);

test('invited from the console, the person enrols a passkey from the emailed link and signs in to an app with it', async () => {
  await inviteFromConsole('lin@vigil.test', 'Lin Chen');
  const { page } = admin;
  expect(await page.textContent('#notice')).toMatch(/invitation was sent/);
  expect(await page.textContent('#invitations')).toContain('lin@vigil.test');
  // Not an account yet: nothing to sign in to.
  expect(await page.textContent('#accounts')).not.toContain('lin@vigil.test');
  await admin.shot('invitation-pending');

  // Inviting the same email again is refused on the form, with the reason.
  await page.goto(`${origin}/admin/invitations/new`);
  await page.fill('#email', 'LIN@vigil.test');
  const [refused] = await Promise.all([page.waitForResponse((r) => r.url().endsWith('/admin/invitations/new') && r.request().method() === 'POST'), page.click('#send-invitation')]);
  expect(refused.status()).toBe(409);
  expect(await page.textContent('#form-error')).toMatch(/already has an invitation waiting/);

  const { mail: received, link } = mail.lastTo('lin@vigil.test', INVITATION_LINK);
  expect(received.subject).toBe('You are invited to sign in with Vigil');

  const person = await open('person');
  await person.page.goto(link);
  await person.page.locator('#enrol-passkey').waitFor();
  expect(await person.page.textContent('#invited-email')).toBe('lin@vigil.test');
  await person.shot('invitation-page');
  await person.page.click('#enrol-passkey');
  await person.page.waitForURL(`${origin}/invitation/welcome`);
  await person.page.locator('#enrolled').waitFor();
  expect(await person.page.textContent('#enrolled')).toContain('lin@vigil.test');
  expect(await person.page.locator('#recovery-codes li').count()).toBe(10);
  await person.shot('enrolled');
  expect(await person.authenticator.credentials()).toHaveLength(1);

  // The codes were shown once; the link is used.
  expect((await person.page.goto(`${origin}/invitation/welcome`))!.status()).toBe(410);
  const again = await person.page.goto(link);
  expect(again!.status()).toBe(410);
  expect(await person.page.textContent('#invitation-problem')).toContain('This invitation has already been used');

  // The relying party sends the person to Vigil: the passkey alone signs in.
  const request = await pkceAuthorization(await discover(origin, web), { redirect_uri: stack.redirectUri, scope: 'openid email offline_access', prompt: 'consent' });
  await person.page.goto(request.url);
  await person.page.locator('#passkey-sign-in').waitFor();
  await person.page.click('#passkey-sign-in');
  const tokens = await request.redeem(await untilRelyingParty(person.page, stack.redirectUri));
  const claims = tokens.claims()!;
  expect(claims.email).toBe('lin@vigil.test');
  expect(claims.email_verified).toBe(true);
  expect(claims.acr).toBe('urn:vigil:acr:phr');
  lin = person;
  linApp = { config: request.config, refreshToken: tokens.refresh_token! };

  // The console now lists the account, and no longer the invitation.
  await page.goto(`${origin}/admin/accounts`);
  expect(await page.textContent('#accounts')).toContain('lin@vigil.test');
  expect(await page.locator('#invitations').count()).toBe(0);
}, TEST_TIMEOUT);

test('an invitation revoked from the console: its link says it was withdrawn', async () => {
  await inviteFromConsole('max@vigil.test', 'Max');
  const { link } = mail.lastTo('max@vigil.test', INVITATION_LINK);
  const { page } = admin;
  await page.locator('[data-invitation-id] .revoke-invitation').first().click();
  await page.locator('#confirm-form').waitFor();
  expect(await page.textContent('#confirm-summary')).toContain('max@vigil.test');
  await Promise.all([page.waitForURL((u) => u.searchParams.get('done') === 'invitation-revoked'), page.click('#confirm')]);
  expect(await page.locator('#invitations').count()).toBe(0);

  const person = await open('revoked');
  const answer = await person.page.goto(link);
  expect(answer!.status()).toBe(410);
  expect(await person.page.textContent('#invitation-problem')).toContain('withdrawn');
  await person.shot('revoked-link');
  await person.close();
}, TEST_TIMEOUT);

test('later the invited person forgets the password: the mailed link sets one, the passkey is still asked, every older session is gone', async () => {
  expect(lin && linApp).toBeTruthy();
  const [passkey] = await lin!.authenticator.credentials();
  // Another browser holding the same passkey (a synced one).
  const other = await openBrowserSession(stack.browser, 'invitation-forgot', { credential: passkey, afterClose: (errors) => expect(cspErrors(errors)).toEqual([]) });
  try {
    const seen = mail.to('lin@vigil.test').length;
    const request = await pkceAuthorization(await discover(origin, web), { redirect_uri: stack.redirectUri, scope: 'openid email' });
    await other.page.goto(request.url);
    await other.page.click('#forgot-password');
    await other.page.fill('#email', 'lin@vigil.test');
    await other.page.click('#send-link');
    await other.page.locator('#reset-sent').waitFor();
    const reset = await mail.next('lin@vigil.test', seen);
    const link = reset.links.find((l) => l.startsWith(`${origin}/password/reset?token=`));
    expect(link).toBeDefined();

    await other.page.goto(link!);
    await other.page.fill('#password', 'lin chose a password now 42');
    await other.page.fill('#confirm', 'lin chose a password now 42');
    await other.page.click('#set-password');
    await other.page.locator('#link-done').waitFor();

    // The new password signs in only with the passkey after it.
    const after = await pkceAuthorization(await discover(origin, web), { redirect_uri: stack.redirectUri, scope: 'openid email' });
    await other.page.goto(after.url);
    await other.page.locator('#password').waitFor();
    await other.page.fill('#email', 'lin@vigil.test');
    await other.page.fill('#password', 'lin chose a password now 42');
    await other.page.click('#sign-in');
    await other.page.locator('#use-passkey').waitFor();
    await other.shot('passkey-asked-after-reset');
    await other.page.click('#use-passkey');
    const claims = (await after.redeem(await untilRelyingParty(other.page, stack.redirectUri))).claims()!;
    expect(claims.amr).toEqual(expect.arrayContaining(['pwd', 'mfa']));

    // The session from the invitation day and the application's refresh token are gone.
    await expect(oidc.refreshTokenGrant(linApp!.config, linApp!.refreshToken)).rejects.toMatchObject({ error: 'invalid_grant' });
    const again = await pkceAuthorization(await discover(origin, web), { redirect_uri: stack.redirectUri, scope: 'openid' });
    await lin!.page.goto(again.url);
    await lin!.page.locator('#passkey-sign-in').waitFor();
    expect(lin!.page.url().startsWith(stack.redirectUri)).toBe(false);
  } finally {
    await other.close();
  }
}, TEST_TIMEOUT);

test('a person provisioned through SCIM enrols a passkey on that account from the emailed link and signs in with it', async () => {
  const scim = `${origin}/scim/v2`;
  const provisioner = await vigilCli<ClientOut>(stack.env, ['client', 'create', '--name', 'Okta', '--grant-type', 'client_credentials', '--allow-resource', scim, '--scope', 'scim']);
  const created = await jsonCall(scim, 'POST', '/Users', await clientCredentialsToken(origin, provisioner, scim, 'scim'),
    { schemas: ['urn:ietf:params:scim:schemas:core:2.0:User'], userName: 'sam@vigil.test', displayName: 'Sam' });
  expect(created.status).toBe(201);
  const { mail: received, link } = mail.lastTo('sam@vigil.test', INVITATION_LINK);
  expect(received.subject).toBe('Set up how you sign in with Vigil');

  const person = await open('provisioned');
  try {
    await person.page.goto(link);
    await person.page.locator('#enrol-passkey').waitFor();
    expect(await person.page.textContent('#invited-email')).toBe('sam@vigil.test');
    await person.page.click('#enrol-passkey');
    await person.page.waitForURL(`${origin}/invitation/welcome`);
    await person.page.locator('#enrolled').waitFor();
    expect(await person.page.locator('#recovery-codes li').count()).toBe(10);
    expect((await person.page.goto(link))!.status()).toBe(410);

    // The passkey is the provisioned account's: its sign-in's subject is the SCIM id.
    const request = await pkceAuthorization(await discover(origin, web), { redirect_uri: stack.redirectUri, scope: 'openid email' });
    await person.page.goto(request.url);
    await person.page.locator('#passkey-sign-in').waitFor();
    await person.page.click('#passkey-sign-in');
    const claims = (await request.redeem(await untilRelyingParty(person.page, stack.redirectUri))).claims()!;
    expect(claims).toMatchObject({ sub: created.body.id, email: 'sam@vigil.test', email_verified: true, acr: 'urn:vigil:acr:phr' });
  } finally {
    await person.close();
  }
}, TEST_TIMEOUT);
