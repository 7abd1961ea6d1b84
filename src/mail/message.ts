/** A message Vigil sends to a person. Bodies carry links that are secrets: never log them. */
export interface MailMessage {
  to: string;
  subject: string;
  text: string;
  html?: string;
}

/** Where a sent message went: an SMTP server's message id, or the outbox file holding it. */
export interface SentMail {
  id: string;
  path?: string;
}

export interface Mailer {
  send(message: MailMessage): Promise<SentMail>;
}

/** A message that could not be sent or written; its text names no body and no link. */
export class MailError extends Error {
  override name = 'MailError';
}
