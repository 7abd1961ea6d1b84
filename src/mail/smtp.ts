import { isIP } from 'node:net';
import type { Transporter } from 'nodemailer';
import type SMTPTransport from 'nodemailer/lib/smtp-transport/index.js';
import type { Logger } from '../observability/index.ts';
import { MailError, type Mailer, type MailMessage, type SentMail } from './message.ts';

export interface SmtpSettings {
  VIGIL_SMTP_URL: string;
  VIGIL_SMTP_ALLOW_PLAIN: boolean;
}

/** This machine: plain SMTP to it never crosses a network. */
export function isLoopbackHost(hostname: string): boolean {
  const host = hostname.replace(/^\[|\]$/g, '').toLowerCase();
  if (host === 'localhost' || host.endsWith('.localhost')) return true;
  if (isIP(host) === 4) return host.startsWith('127.');
  return host === '::1' || host === '0:0:0:0:0:0:0:1' || /^::ffff:127\./.test(host);
}

/**
 * How nodemailer reaches VIGIL_SMTP_URL. smtps:// is TLS from the first byte; smtp:// must
 * upgrade with STARTTLS, except to this machine or with VIGIL_SMTP_ALLOW_PLAIN, where it stays
 * plain (a local relay's certificate would not verify). Certificates are always verified.
 */
export function smtpTransportOptions(settings: SmtpSettings): SMTPTransport.Options {
  const url = new URL(settings.VIGIL_SMTP_URL);
  const secure = url.protocol === 'smtps:';
  const plain = !secure && (settings.VIGIL_SMTP_ALLOW_PLAIN || isLoopbackHost(url.hostname));
  const host = url.hostname.replace(/^\[|\]$/g, '');
  return {
    host,
    port: url.port ? Number(url.port) : secure ? 465 : 587,
    secure,
    requireTLS: !secure && !plain,
    ignoreTLS: plain,
    ...(url.username ? { auth: { user: decodeURIComponent(url.username), pass: decodeURIComponent(url.password) } } : {}),
    tls: { rejectUnauthorized: true, minVersion: 'TLSv1.2', ...(isIP(host) ? {} : { servername: host }) },
    connectionTimeout: 10_000,
    greetingTimeout: 10_000,
    socketTimeout: 30_000,
    // Messages are built from Vigil's own templates; nothing in them may pull in files or URLs.
    disableFileAccess: true,
    disableUrlAccess: true,
  };
}

/** Real delivery through the operator's SMTP server. */
export class SmtpMailer implements Mailer {
  readonly #options: SMTPTransport.Options;
  /** nodemailer loads with the first message: a start and every `vigil` command go without it. */
  #transport: Promise<Transporter<SMTPTransport.SentMessageInfo>> | undefined;
  readonly #from: string;
  readonly #logger: Logger;

  constructor(settings: SmtpSettings, from: string, logger: Logger) {
    this.#options = smtpTransportOptions(settings);
    this.#from = from;
    this.#logger = logger;
  }

  #connect(): Promise<Transporter<SMTPTransport.SentMessageInfo>> {
    this.#transport ??= import('nodemailer').then(({ default: nodemailer }) => nodemailer.createTransport(this.#options));
    return this.#transport;
  }

  async send(message: MailMessage): Promise<SentMail> {
    const transport = await this.#connect();
    let info: SMTPTransport.SentMessageInfo;
    try {
      info = await transport.sendMail({ from: this.#from, to: message.to, subject: message.subject, text: message.text, ...(message.html === undefined ? {} : { html: message.html }) });
    } catch (err) {
      const code = (err as { code?: string }).code;
      this.#logger.warn({ code, responseCode: (err as { responseCode?: number }).responseCode }, 'mail could not be sent through VIGIL_SMTP_URL');
      throw new MailError(`mail could not be sent through VIGIL_SMTP_URL${code ? ` (${code})` : ''}`);
    }
    this.#logger.info({ messageId: info.messageId }, 'mail sent');
    return { id: info.messageId };
  }

  close(): void {
    // A transport that never loaded has nothing to close (send() reported why it did not load).
    void this.#transport?.then((transport) => transport.close(), () => undefined);
  }
}
