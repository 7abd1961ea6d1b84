import type { Config } from '../config/index.ts';
import type { Logger } from '../observability/index.ts';
import type { Mailer } from './message.ts';
import { MailOutbox, OutboxMailer } from './outbox.ts';
import { MailTemplates } from './templates.ts';
import { isLoopbackHost, SmtpMailer } from './smtp.ts';

export interface MailSetup {
  mailer: Mailer;
  /** Where unsent mail is kept (VIGIL_DATA_DIR/outbox); listed by `vigil mail list`. */
  outbox: MailOutbox;
  /** The mails' templates (views/mail), speaking for the configured product name. */
  templates: MailTemplates;
  /** What the server says about mail at start, or undefined when there is nothing to say. */
  notice?: { level: 'info' | 'warn'; message: string };
}

/** A From display name as RFC 5322 wants it: quoted when it holds a special character. */
function displayName(name: string): string {
  return /[()<>\[\]:;@\\,."]/.test(name) ? `"${name.replace(/["\\]/g, '\\$&')}"` : name;
}

/** SMTP when VIGIL_SMTP_URL is set; otherwise the outbox (the embedded default, and Postgres mode without SMTP). */
export function createMail(config: Config, logger: Logger): MailSetup {
  return { ...createMailer(config, logger), templates: new MailTemplates(undefined, { brandName: config.VIGIL_BRAND_NAME, defaultLanguage: config.VIGIL_DEFAULT_LANGUAGE }) };
}

function createMailer(config: Config, logger: Logger): Omit<MailSetup, 'templates'> {
  const outbox = new MailOutbox(config.dataDir);
  if (config.VIGIL_SMTP_URL) {
    const url = new URL(config.VIGIL_SMTP_URL);
    const plainOverNetwork = url.protocol === 'smtp:' && config.VIGIL_SMTP_ALLOW_PLAIN && !isLoopbackHost(url.hostname);
    return {
      mailer: new SmtpMailer({ VIGIL_SMTP_URL: config.VIGIL_SMTP_URL, VIGIL_SMTP_ALLOW_PLAIN: config.VIGIL_SMTP_ALLOW_PLAIN }, config.VIGIL_MAIL_FROM!, logger),
      outbox,
      ...(plainOverNetwork ? { notice: { level: 'warn' as const, message: `VIGIL_SMTP_ALLOW_PLAIN: mail to ${url.hostname} is sent without TLS` } } : {}),
    };
  }
  const from = config.VIGIL_MAIL_FROM ?? `${displayName(config.VIGIL_BRAND_NAME)} <vigil@${new URL(config.ISSUER).hostname}>`;
  const where = `no VIGIL_SMTP_URL: mail is written to ${outbox.dir} (vigil mail list shows it)`;
  return {
    mailer: new OutboxMailer(outbox, from, logger),
    outbox,
    // Nobody receives it: with a database server, that is more likely a gap than a choice.
    notice: config.storageMode === 'embedded' ? { level: 'info', message: where } : { level: 'warn', message: `${where}; nobody receives it until VIGIL_SMTP_URL is set` },
  };
}
