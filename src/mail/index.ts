export { MailError, type Mailer, type MailMessage, type SentMail } from './message.ts';
export { MailOutbox, OutboxMailer, OUTBOX_DIR, type MailSummary, type StoredMail } from './outbox.ts';
export { isLoopbackHost, SmtpMailer, smtpTransportOptions, type SmtpSettings } from './smtp.ts';
export { MailTemplates, MAIL_VIEWS_DIR, type MailTemplateOptions, type RenderedMail } from './templates.ts';
export { createMail, type MailSetup } from './create.ts';
