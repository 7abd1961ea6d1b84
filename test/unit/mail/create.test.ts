import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../../src/config/index.ts';
import { createLogger } from '../../../src/observability/index.ts';
import { createMail, OutboxMailer, SmtpMailer } from '../../../src/mail/index.ts';

const cwd = mkdtempSync(join(tmpdir(), 'vigil-mail-config-'));
const setup = (env: Record<string, string>) => createMail(loadConfig(env, cwd), createLogger('silent'));

test('embedded without SMTP: the outbox in the data directory, said at start', () => {
  const mail = setup({});
  expect(mail.mailer).toBeInstanceOf(OutboxMailer);
  expect(mail.outbox.dir).toBe(join(cwd, 'data', 'outbox'));
  expect(mail.notice).toEqual({ level: 'info', message: `no VIGIL_SMTP_URL: mail is written to ${join(cwd, 'data', 'outbox')} (vigil mail list shows it)` });
});

test('Postgres without SMTP: the outbox too, with a warning', () => {
  const mail = setup({ DATABASE_URL: 'postgres://db.example/vigil' });
  expect(mail.mailer).toBeInstanceOf(OutboxMailer);
  expect(mail.notice?.level).toBe('warn');
  expect(mail.notice?.message).toMatch(/nobody receives it until VIGIL_SMTP_URL is set$/);
});

test('SMTP: quiet, unless plain SMTP crosses a network', () => {
  const smtp = setup({ VIGIL_SMTP_URL: 'smtp://user:pw@smtp.example.com', VIGIL_MAIL_FROM: 'no-reply@idp.example' });
  expect(smtp.mailer).toBeInstanceOf(SmtpMailer);
  expect(smtp.notice).toBeUndefined();
  expect(setup({ VIGIL_SMTP_URL: 'smtp://127.0.0.1:25', VIGIL_MAIL_FROM: 'no-reply@idp.example', VIGIL_SMTP_ALLOW_PLAIN: 'true' }).notice).toBeUndefined();
  expect(setup({ VIGIL_SMTP_URL: 'smtp://relay.internal', VIGIL_MAIL_FROM: 'no-reply@idp.example', VIGIL_SMTP_ALLOW_PLAIN: 'true' }).notice)
    .toEqual({ level: 'warn', message: 'VIGIL_SMTP_ALLOW_PLAIN: mail to relay.internal is sent without TLS' });
});
