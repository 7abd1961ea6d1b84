/**
 * An SMTP server in the test's process (smtp-server) that keeps every message it receives,
 * parsed with mailparser: Vigil is pointed at it with `env`, as an operator would set VIGIL_SMTP_URL.
 */
import type { AddressInfo } from 'node:net';
import { SMTPServer } from 'smtp-server';
import { simpleParser, type ParsedMail } from 'mailparser';

export interface MailCatcher {
  /** VIGIL_SMTP_URL and VIGIL_MAIL_FROM for a Vigil that sends here. */
  env: Record<string, string>;
  inbox: ParsedMail[];
  /** The last message to `to`, and the first link in its text that `link` matches (the HTML's link must be the same). */
  lastTo(to: string, link: RegExp): { mail: ParsedMail; link: string };
  close(): Promise<void>;
}

export async function startMailCatcher(): Promise<MailCatcher> {
  const inbox: ParsedMail[] = [];
  const server = new SMTPServer({
    authOptional: true, logger: false, disabledCommands: ['STARTTLS'],
    onData(stream, _session, callback) {
      simpleParser(stream).then((mail) => { inbox.push(mail); callback(); }, callback);
    },
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.server.address() as AddressInfo).port;
  return {
    env: { VIGIL_SMTP_URL: `smtp://127.0.0.1:${port}`, VIGIL_MAIL_FROM: 'Vigil <no-reply@vigil.test>' },
    inbox,
    lastTo(to, pattern) {
      const mail = [...inbox].reverse().find((m) => (Array.isArray(m.to) ? m.to[0] : m.to)?.value[0]?.address === to);
      if (!mail) throw new Error(`no mail to ${to} (${inbox.length} received)`);
      const link = pattern.exec(String(mail.text))?.[0];
      if (!link) throw new Error(`no link in the mail to ${to}:\n${mail.text}`);
      const href = /href="([^"]+)"/.exec(String(mail.html))?.[1]?.replaceAll('&amp;', '&');
      if (href !== link) throw new Error(`the HTML part links to ${href}, the text to ${link}`);
      return { mail, link };
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
