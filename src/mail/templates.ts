import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import nunjucks from 'nunjucks';
import { DEFAULT_LANGUAGE, shippedCatalogue, translator, type Catalogue } from '../i18n/index.ts';

export const MAIL_VIEWS_DIR = fileURLToPath(new URL('../../views/mail/', import.meta.url));
const NAME = /^[a-z0-9][a-z0-9-]{0,63}$/;

export interface MailTemplateOptions {
  /** The product name the mail speaks for (VIGIL_BRAND_NAME), `brand.name` in the templates. */
  brandName?: string;
  /** The language of mail rendered without one (invitations), and for a language the catalogue lacks. */
  defaultLanguage?: string;
  catalogue?: Catalogue;
}

export interface RenderedMail {
  subject: string;
  text: string;
  html?: string;
}

/**
 * A mail's templates in one directory: NAME.subject.njk, NAME.text.njk and, optionally,
 * NAME.html.njk. The HTML part autoescapes every value; the subject and text are plain text,
 * so they are rendered as written (a subject on one line). Every template sees `brand.name`, and
 * `t` and `lang` of the language it is rendered in: the recipient's, as their browser's
 * Accept-Language said when they asked for the mail (pageLanguage in http/ negotiates it).
 */
export class MailTemplates {
  readonly #dir: string;
  readonly #html: nunjucks.Environment;
  readonly #text: nunjucks.Environment;
  readonly #catalogue: Catalogue;
  readonly #brandName: string;
  readonly #defaultLanguage: string;

  constructor(dir = MAIL_VIEWS_DIR, options: MailTemplateOptions = {}) {
    this.#dir = dir;
    this.#catalogue = options.catalogue ?? shippedCatalogue();
    this.#brandName = options.brandName ?? 'Vigil';
    this.#defaultLanguage = options.defaultLanguage ?? DEFAULT_LANGUAGE;
    this.#html = new nunjucks.Environment(new nunjucks.FileSystemLoader(dir), { autoescape: true, throwOnUndefined: true });
    this.#text = new nunjucks.Environment(new nunjucks.FileSystemLoader(dir), { autoescape: false, throwOnUndefined: true });
    for (const env of [this.#html, this.#text]) env.addGlobal('brand', { name: this.#brandName });
  }

  /** The mail in `lang` (English when the catalogue does not have it). */
  render(name: string, values: Record<string, unknown>, lang: string = this.#defaultLanguage): RenderedMail {
    if (!NAME.test(name)) throw new Error(`not a mail template name: ${name}`);
    const language = this.#catalogue.languages.includes(lang) ? lang : this.#defaultLanguage;
    values = { ...values, lang: language, t: translator(this.#catalogue, language, { product: this.#brandName }) };
    const subject = this.#text.render(`${name}.subject.njk`, values).replace(/\s+/g, ' ').trim();
    const text = this.#text.render(`${name}.text.njk`, values);
    const html = existsSync(join(this.#dir, `${name}.html.njk`)) ? this.#html.render(`${name}.html.njk`, values) : undefined;
    return { subject, text, ...(html === undefined ? {} : { html }) };
  }
}
