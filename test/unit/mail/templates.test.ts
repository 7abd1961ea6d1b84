import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MailTemplates } from '../../../src/mail/index.ts';
import { msg, shippedCatalogue } from '../../../src/i18n/index.ts';

const dir = mkdtempSync(join(tmpdir(), 'vigil-mail-views-'));
writeFileSync(join(dir, 'invite.subject.njk'), 'Join {{ name }}\n  on Vigil\n');
writeFileSync(join(dir, 'invite.text.njk'), 'Hello {{ person }},\nopen {{ link }}\n');
writeFileSync(join(dir, 'invite.html.njk'), '<p>Hello {{ person }},</p><p><a href="{{ link }}">Join</a></p>');
writeFileSync(join(dir, 'plain.subject.njk'), 'Plain');
writeFileSync(join(dir, 'plain.text.njk'), 'Just text');

const templates = new MailTemplates(dir);
const LINK = 'https://idp.example/invite?token=abc&next=%2Fhome';

test('the HTML part escapes every value; the text and subject are text as written', () => {
  const mail = templates.render('invite', { name: 'R&D', person: '<script>alert(1)</script>', link: LINK });
  expect(mail.subject).toBe('Join R&D on Vigil');
  expect(mail.text).toBe(`Hello <script>alert(1)</script>,\nopen ${LINK}\n`);
  expect(mail.html).toBe('<p>Hello &lt;script&gt;alert(1)&lt;/script&gt;,</p><p><a href="https://idp.example/invite?token=abc&amp;next=%2Fhome">Join</a></p>');
});

test('the HTML part is optional; a missing value or a bad name is an error, not a blank', () => {
  expect(templates.render('plain', {})).toEqual({ subject: 'Plain', text: 'Just text' });
  expect(() => templates.render('invite', { name: 'x', person: 'y' })).toThrow(/invite.text.njk.*\n.*undefined/);
  expect(() => templates.render('../invite', {})).toThrow(/not a mail template name/);
});

test('a mail renders in the recipient\'s language, with the product name; an unknown language is English', () => {
  const i18nDir = mkdtempSync(join(tmpdir(), 'vigil-mail-i18n-'));
  writeFileSync(join(i18nDir, 'hello.subject.njk'), '{{ t("loggedOut.title") }} · {{ brand.name }}');
  writeFileSync(join(i18nDir, 'hello.text.njk'), '{{ t("loggedOut.plain") }} ({{ lang }})');
  writeFileSync(join(i18nDir, 'hello.html.njk'), '<p lang="{{ lang }}">{{ t("logout.asks", { client: client }) }}</p>');
  const branded = new MailTemplates(i18nDir, { brandName: 'Acme ID' });
  expect(branded.render('hello', { client: '<R&D>' }, 'de')).toEqual({
    subject: 'Abgemeldet · Acme ID',
    text: 'Sie haben sich von Acme ID abgemeldet. (de)',
    html: '<p lang="de">&lt;R&amp;D&gt; bittet Sie, sich von Acme ID abzumelden.</p>',
  });
  expect(branded.render('hello', { client: 'x' }, 'fr').text).toBe('You have signed out of Acme ID. (en)');
  expect(branded.render('hello', { client: 'x' }).subject).toBe('Signed out · Acme ID');
});

test('Vigil\'s own mails are said wholly in the language asked for, with the product name', () => {
  const shipped = new MailTemplates(undefined, { brandName: 'Acme ID' });
  const catalogue = shippedCatalogue();
  const values: Record<string, Record<string, unknown>> = {
    'invitation': { name: 'Ada', email: 'ada@idp.example', link: 'https://idp.example/invitation/x', issuer: 'https://idp.example', expiresAt: '2030-01-01T00:00:00.000Z', hours: 72 },
    'enrolment': { name: 'Ada', email: 'ada@idp.example', link: 'https://idp.example/invitation/x', issuer: 'https://idp.example', expiresAt: '2030-01-01T00:00:00.000Z', hours: 72 },
    'password-reset': { name: 'Ada', email: 'ada@idp.example', url: 'https://idp.example/password/reset?token=x', expiry: msg('common.hours', { count: 2 }) },
    'email-verification': { name: 'Ada', email: 'ada@idp.example', url: 'https://idp.example/email/verify?token=x', expiry: msg('common.oneHour') },
  };
  // The words of every mail message, in English, that German says otherwise.
  const english = catalogue.keys('en').filter((key) => key.startsWith('mail.'))
    .flatMap((key) => catalogue.message('en', key)!.split(/\{[a-zA-Z]+\}/).map((part) => part.trim()).filter((part) => part.length > 3 && !catalogue.message('de', key)!.includes(part)));
  for (const [name, vars] of Object.entries(values)) {
    const de = shipped.render(name, vars, 'de');
    const en = shipped.render(name, vars, 'en');
    expect({ name, subject: de.subject, html: de.html!.includes('<html lang="de">') }).toEqual({ name, subject: expect.stringContaining('Acme ID'), html: true });
    expect({ name, greeting: de.text.split('\n')[0], english: english.filter((part) => de.text.includes(part) || de.html!.includes(part)) }).toEqual({ name, greeting: 'Guten Tag Ada,', english: [] });
    expect({ name, greeting: en.text.split('\n')[0], subject: en.subject.includes('Acme ID') }).toEqual({ name, greeting: 'Hello Ada,', subject: true });
  }
  expect(shipped.render('password-reset', values['password-reset'], 'de').text).toContain('2 Stunden lang');
  expect(shipped.render('email-verification', values['email-verification'], 'en').text).toContain('for 1 hour.');
});
