import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import nunjucks from 'nunjucks';

export const MAIL_VIEWS_DIR = fileURLToPath(new URL('../../views/mail/', import.meta.url));
const NAME = /^[a-z0-9][a-z0-9-]{0,63}$/;

export interface RenderedMail {
  subject: string;
  text: string;
  html?: string;
}

/**
 * A mail's templates in one directory: NAME.subject.njk, NAME.text.njk and, optionally,
 * NAME.html.njk. The HTML part autoescapes every value; the subject and text are plain text,
 * so they are rendered as written (a subject on one line).
 */
export class MailTemplates {
  readonly #dir: string;
  readonly #html: nunjucks.Environment;
  readonly #text: nunjucks.Environment;

  constructor(dir = MAIL_VIEWS_DIR) {
    this.#dir = dir;
    this.#html = new nunjucks.Environment(new nunjucks.FileSystemLoader(dir), { autoescape: true, throwOnUndefined: true });
    this.#text = new nunjucks.Environment(new nunjucks.FileSystemLoader(dir), { autoescape: false, throwOnUndefined: true });
  }

  render(name: string, values: Record<string, unknown>): RenderedMail {
    if (!NAME.test(name)) throw new Error(`not a mail template name: ${name}`);
    const subject = this.#text.render(`${name}.subject.njk`, values).replace(/\s+/g, ' ').trim();
    const text = this.#text.render(`${name}.text.njk`, values);
    const html = existsSync(join(this.#dir, `${name}.html.njk`)) ? this.#html.render(`${name}.html.njk`, values) : undefined;
    return { subject, text, ...(html === undefined ? {} : { html }) };
  }
}
