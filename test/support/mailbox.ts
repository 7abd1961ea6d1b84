/**
 * An in-process SMTP server (smtp-server) that keeps what Vigil sends, parsed with mailparser,
 * for tests that follow the links in it.
 */
import { SMTPServer } from 'smtp-server';
import { simpleParser, type ParsedMail } from 'mailparser';
import type { AddressInfo } from 'node:net';

export interface ReceivedMail {
  to: string[];
  subject: string;
  text: string;
  html: string;
  /** The links in the HTML part, as a mail client opens them. */
  links: string[];
}

/** A started Mailbox. */
export async function startMailbox(): Promise<Mailbox> {
  const mailbox = new Mailbox();
  await mailbox.start();
  return mailbox;
}

export class Mailbox {
  readonly received: ReceivedMail[] = [];
  /** How long the server takes to accept each message (a slow relay). */
  delayMs = 0;
  #server?: SMTPServer;
  port = 0;

  async start(): Promise<void> {
    this.#server = new SMTPServer({
      authOptional: true,
      logger: false,
      disabledCommands: ['STARTTLS'],
      onData: (stream, session, callback) => {
        simpleParser(stream).then((mail: ParsedMail) => {
          const html = typeof mail.html === 'string' ? mail.html : '';
          this.received.push({
            to: session.envelope.rcptTo.map((r) => r.address.toLowerCase()),
            subject: mail.subject ?? '',
            text: mail.text ?? '',
            html,
            links: [...html.matchAll(/href="([^"]+)"/g)].map((m) => m[1].replaceAll('&amp;', '&')),
          });
          setTimeout(callback, this.delayMs);
        }, callback);
      },
    });
    await new Promise<void>((resolve) => this.#server!.listen(0, '127.0.0.1', resolve));
    this.port = (this.#server!.server.address() as AddressInfo).port;
  }

  /** The settings that send Vigil's mail here. */
  get env(): Record<string, string> {
    return { VIGIL_SMTP_URL: `smtp://127.0.0.1:${this.port}`, VIGIL_MAIL_FROM: 'Vigil <no-reply@vigil.test>' };
  }

  /** Mail to `address` so far. */
  to(address: string): ReceivedMail[] {
    return this.received.filter((m) => m.to.includes(address.toLowerCase()));
  }

  /** The last mail to `address`, and the link in its text that `pattern` matches (its HTML part must link to the same). */
  lastTo(address: string, pattern: RegExp): { mail: ReceivedMail; link: string } {
    const mail = this.to(address).at(-1);
    if (!mail) throw new Error(`no mail to ${address} (${this.received.length} received)`);
    const link = pattern.exec(mail.text)?.[0];
    if (!link) throw new Error(`no link in the mail to ${address}:\n${mail.text}`);
    if (!mail.links.includes(link)) throw new Error(`the HTML part links to ${mail.links.join(', ')}, the text to ${link}`);
    return { mail, link };
  }

  /** The next mail to `address` after the `seen` it already had, waited for (at most `ms`). */
  async next(address: string, seen: number, ms = 10_000): Promise<ReceivedMail> {
    const end = Date.now() + ms;
    for (;;) {
      const mails = this.to(address);
      if (mails.length > seen) return mails[seen];
      if (Date.now() > end) throw new Error(`no mail to ${address} arrived (had ${seen})`);
      await new Promise((r) => setTimeout(r, 25));
    }
  }

  async stop(): Promise<void> {
    if (this.#server) await new Promise<void>((resolve) => this.#server!.close(() => resolve()));
  }
}
