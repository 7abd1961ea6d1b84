import { SMTPServer } from 'smtp-server';
import { simpleParser, type ParsedMail } from 'mailparser';
import type { AddressInfo } from 'node:net';
import { loadConfig } from '../../src/config/index.ts';
import { createLogger } from '../../src/observability/index.ts';
import { createMail, MailError, SmtpMailer } from '../../src/mail/index.ts';
import { tempDir } from '../support/vigil-process.ts';

/**
 * Real SMTP: an smtp-server in this process on 127.0.0.1, Vigil's mailer configured with its
 * URL as an operator would, each message it receives parsed back with mailparser.
 */

// Long enough to be folded by quoted-printable; characters that HTML and QP both escape.
const LINK = 'https://idp.example/invite?token=eyJhbGciOiJFUzI1NiJ9.c2VjcmV0LXBheWxvYWQtdGhhdC1pcy1sb25n_-x&next=%2Faccount%3Ftab%3Dpasskeys';

let server: SMTPServer;
let port: number;
const received: { envelope: { from: string; to: string[] }; mail: ParsedMail }[] = [];
const logLines: string[] = [];
const logger = createLogger('info', { write: (line: string) => { logLines.push(line); } });

beforeAll(async () => {
  server = new SMTPServer({
    authOptional: false,
    allowInsecureAuth: true,
    logger: false,
    onAuth(auth, _session, callback) {
      if (auth.username === 'vigil' && auth.password === 'p@ss:word/1') callback(null, { user: 'vigil' });
      else callback(new Error('bad credentials'));
    },
    onRcptTo(address, _session, callback) {
      if (address.address.endsWith('@refused.example')) callback(new Error('no such mailbox'));
      else callback();
    },
    onData(stream, session, callback) {
      simpleParser(stream).then((mail) => {
        received.push({ envelope: { from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '', to: session.envelope.rcptTo.map((r) => r.address) }, mail });
        callback();
      }, callback);
    },
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.server.address() as AddressInfo).port;
});

afterAll(async () => {
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

function mailSetup(extra: Record<string, string> = {}) {
  const config = loadConfig({
    VIGIL_DATA_DIR: tempDir(), VIGIL_SMTP_URL: `smtp://vigil:p%40ss%3Aword%2F1@127.0.0.1:${port}`, VIGIL_MAIL_FROM: 'Vigil <no-reply@idp.example>', ...extra,
  }, process.cwd());
  return createMail(config, logger);
}

test('a message sent through VIGIL_SMTP_URL arrives with its subject, addresses, text and links intact', async () => {
  const { mailer, notice } = mailSetup();
  expect(mailer).toBeInstanceOf(SmtpMailer);
  expect(notice).toBeUndefined();
  const sent = await mailer.send({
    to: 'ada@example.com',
    subject: 'Your invitation to Vigil — join “R&D”',
    text: `Hello Ada,\n\nOpen this link to choose your password:\n${LINK}\n`,
    html: `<p>Hello Ada,</p><p><a href="${LINK.replaceAll('&', '&amp;')}">Choose your password</a></p>`,
  });
  expect(sent.id).toMatch(/^<.+>$/);

  expect(received).toHaveLength(1);
  const { envelope, mail } = received[0];
  expect(envelope).toEqual({ from: 'no-reply@idp.example', to: ['ada@example.com'] });
  expect(mail.subject).toBe('Your invitation to Vigil — join “R&D”');
  expect(mail.from?.value).toEqual([{ name: 'Vigil', address: 'no-reply@idp.example' }]);
  expect(mail.messageId).toBe(sent.id);
  const to = Array.isArray(mail.to) ? mail.to[0] : mail.to;
  expect(to?.value).toEqual([{ name: '', address: 'ada@example.com' }]);
  expect(mail.text).toBe(`Hello Ada,\n\nOpen this link to choose your password:\n${LINK}\n`);
  const href = /href="([^"]+)"/.exec(String(mail.html))?.[1];
  expect(href?.replaceAll('&amp;', '&')).toBe(LINK);

  // The log says a mail went, not to whom with what.
  const log = logLines.join('');
  expect(log).toContain('mail sent');
  expect(log).not.toContain('token=');
  expect(log).not.toContain('p@ss');
});

test('a refusal by the server is a MailError that names the setting, not the message', async () => {
  const { mailer } = mailSetup();
  const failure = mailer.send({ to: 'nobody@refused.example', subject: 'x', text: LINK });
  await expect(failure).rejects.toBeInstanceOf(MailError);
  await expect(failure).rejects.toThrow(/^mail could not be sent through VIGIL_SMTP_URL \(EENVELOPE\)$/);
  expect(logLines.join('')).not.toContain('token=');
});

test('wrong credentials in VIGIL_SMTP_URL: nothing is sent', async () => {
  const before = received.length;
  const { mailer } = mailSetup({ VIGIL_SMTP_URL: `smtp://vigil:wrong@127.0.0.1:${port}` });
  await expect(mailer.send({ to: 'ada@example.com', subject: 'x', text: 'y' })).rejects.toThrow(/VIGIL_SMTP_URL \(EAUTH\)/);
  expect(received).toHaveLength(before);
});

test('smtps:// to a server that does not speak TLS fails rather than falling back to plain', async () => {
  const before = received.length;
  const { mailer } = mailSetup({ VIGIL_SMTP_URL: `smtps://vigil:p%40ss%3Aword%2F1@127.0.0.1:${port}` });
  await expect(mailer.send({ to: 'ada@example.com', subject: 'x', text: 'y' })).rejects.toBeInstanceOf(MailError);
  expect(received).toHaveLength(before);
});
