/**
 * renderPage draws a page in the request's language: `<html lang>`, Content-Language and
 * Vary: Accept-Language, its words and its error page's; the admin console (not translated) says English.
 */
import type { Server } from 'node:http';
import Koa from 'koa';
import { errorBoundary } from '../../src/http/errors.ts';
import { clientNameOf, createViews, renderPage } from '../../src/http/index.ts';
import { createLogger } from '../../src/observability/index.ts';
import { DEFAULT_BRAND } from '../../src/branding/index.ts';
import { msg, shippedCatalogue, translator } from '../../src/i18n/index.ts';
import { MailTemplates } from '../../src/mail/index.ts';

let server: Server;
let url: string;

beforeAll(async () => {
  const views = createViews(undefined, { brand: { ...DEFAULT_BRAND, name: 'Acme ID' } });
  const app = new Koa();
  app.silent = true;
  app.use(errorBoundary(createLogger('silent'), views));
  app.use((ctx) => {
    if (ctx.path === '/signed-out') return renderPage(ctx, views, 'logged-out.njk', { title: msg('loggedOut.title') });
    if (ctx.path === '/admin') return renderPage(ctx, views, 'admin/refused.njk', { title: 'Refused', message: 'No.', status: 403 }, 403);
    throw Object.assign(new Error('the form has expired'), { status: 400, error: 'invalid_request', pageMessage: msg('login.errors.formExpired') });
  });
  server = app.listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
});

afterAll(() => new Promise((resolve) => server.close(resolve)));

const page = async (path: string, acceptLanguage?: string) => {
  const response = await fetch(`${url}${path}`, { headers: { accept: 'text/html', ...(acceptLanguage ? { 'accept-language': acceptLanguage } : {}) } });
  const body = await response.text();
  return {
    status: response.status, contentLanguage: response.headers.get('content-language'), vary: response.headers.get('vary'),
    lang: /<html lang="([^"]+)">/.exec(body)?.[1], title: /<title>([^<]*)<\/title>/.exec(body)?.[1], body,
  };
};

test.each([
  ['de-CH, en;q=0.5', 'de', 'Abgemeldet · Acme ID', 'Sie haben sich von Acme ID abgemeldet.'],
  ['fr, en;q=0.1, de;q=0.2', 'de', 'Abgemeldet · Acme ID', 'Sie haben sich von Acme ID abgemeldet.'],
  ['fr', 'en', 'Signed out · Acme ID', 'You have signed out of Acme ID.'],
  [undefined, 'en', 'Signed out · Acme ID', 'You have signed out of Acme ID.'],
])('Accept-Language %j: the page is in %s', async (acceptLanguage, lang, title, text) => {
  const shown = await page('/signed-out', acceptLanguage);
  expect(shown).toMatchObject({ status: 200, contentLanguage: lang, vary: expect.stringMatching(/accept-language/i), lang, title });
  expect(shown.body).toContain(text);
});

test('an error page tells the person in their language', async () => {
  const shown = await page('/refused', 'de');
  expect(shown).toMatchObject({ status: 400, contentLanguage: 'de', lang: 'de', title: 'Etwas ist schiefgegangen · Acme ID' });
  expect(shown.body).toContain('Das Formular ist abgelaufen oder stammt nicht von dieser Seite.');
  expect(shown.body).toContain('<code id="error-code">invalid_request</code>');
});

test('the admin console is English, and says so', async () => {
  const shown = await page('/admin', 'de');
  expect(shown).toMatchObject({ status: 403, contentLanguage: 'en', lang: 'en' });
  expect(shown.vary ?? '').not.toMatch(/accept-language/i);
});

test('Vigil\'s own apps are named in the reader\'s language with the product name; other clients by their name', () => {
  const v = createViews();
  const de = translator(shippedCatalogue(), 'de', { product: 'Acme ID' });
  const client = (clientId: string, clientName: string, firstParty: boolean) => ({ clientId, clientName, metadata: () => (firstParty ? { vigil_first_party: true } : {}) });
  expect(de(clientNameOf(v, client('vigil-account', 'Your Vigil account', true)))).toBe('Ihr Acme ID-Konto');
  expect(de(clientNameOf(v, client('vigil-admin', 'Vigil admin console', true)))).toBe('Acme ID-Admin-Konsole');
  // A relying party cannot borrow the name by its id: only Vigil's own clients are first-party.
  expect(clientNameOf(v, client('vigil-account', 'Evil app', false))).toBe('Evil app');
  expect(clientNameOf(v, undefined)).toBeUndefined();
});

test('VIGIL_DEFAULT_LANGUAGE: a request naming no language Vigil has gets the organisation\'s default, and so does mail sent without a request', async () => {
  const views = createViews(undefined, { brand: { ...DEFAULT_BRAND, name: 'Acme ID' }, defaultLanguage: 'de' });
  const app = new Koa();
  app.use((ctx) => renderPage(ctx, views, 'logged-out.njk', { title: msg('loggedOut.title') }));
  const german = app.listen(0, '127.0.0.1');
  await new Promise((resolve) => german.once('listening', resolve));
  try {
    const at = `http://127.0.0.1:${(german.address() as { port: number }).port}/`;
    const lang = async (acceptLanguage?: string) => (await fetch(at, { headers: acceptLanguage ? { 'accept-language': acceptLanguage } : {} })).headers.get('content-language');
    expect([await lang('fr'), await lang(undefined), await lang('en'), await lang('fr, en;q=0.5')]).toEqual(['de', 'de', 'en', 'en']);
  } finally {
    await new Promise((resolve) => german.close(resolve));
  }
  const invitation = new MailTemplates(undefined, { brandName: 'Acme ID', defaultLanguage: 'de' })
    .render('invitation', { name: 'Ada', email: 'ada@example.com', link: 'https://id.example/invitation/x', issuer: 'https://id.example', expiresAt: new Date().toISOString(), hours: 72 });
  expect(invitation.html).toContain('<html lang="de">');
});
