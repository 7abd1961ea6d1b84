import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MailTemplates } from '../../../src/mail/index.ts';

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
