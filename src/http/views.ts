import { fileURLToPath } from 'node:url';
import nunjucks from 'nunjucks';
import type { Context } from 'koa';
import { DEFAULT_BRAND, type Brand } from '../branding/index.ts';
import { DEFAULT_LANGUAGE, msg, negotiateLanguage, shippedCatalogue, translator, type Catalogue, type Message, type Translate } from '../i18n/index.ts';

export const VIEWS_DIR = fileURLToPath(new URL('../../views/', import.meta.url));

export interface ViewOptions {
  cache?: boolean;
  brand?: Brand;
  catalogue?: Catalogue;
  /** The language when Accept-Language names none of the catalogue's (VIGIL_DEFAULT_LANGUAGE). */
  defaultLanguage?: string;
}

const catalogues = new WeakMap<nunjucks.Environment, { catalogue: Catalogue; fallback: string }>();

/**
 * Templates autoescape every value; only markup produced by Vigil itself is marked safe. Every
 * template sees `brand` (name, logo), and each page `t` and `lang` of its request (renderPage).
 */
export function createViews(dir = VIEWS_DIR, cacheOrOptions: boolean | ViewOptions = {}): nunjucks.Environment {
  const options = typeof cacheOrOptions === 'boolean' ? { cache: cacheOrOptions } : cacheOrOptions;
  const env = new nunjucks.Environment(new nunjucks.FileSystemLoader(dir, { noCache: options.cache === false }), { autoescape: true, throwOnUndefined: false });
  const brand = options.brand ?? DEFAULT_BRAND;
  env.addGlobal('brand', { name: brand.name, logoUrl: brand.logo?.url });
  catalogues.set(env, { catalogue: options.catalogue ?? shippedCatalogue(), fallback: options.defaultLanguage ?? DEFAULT_LANGUAGE });
  return env;
}

export type Views = nunjucks.Environment;

/** The catalogue a Views environment translates with. */
export function catalogueOf(views: Views): Catalogue {
  return catalogues.get(views)?.catalogue ?? shippedCatalogue();
}

/**
 * The language of this request's answer, from its Accept-Language (`fallback` when none matches).
 * The answer says so: `Content-Language`, and `Vary: Accept-Language` for caches.
 */
export function pageLanguage(ctx: Context, catalogue: Catalogue = shippedCatalogue(), product = DEFAULT_BRAND.name, englishOnly = false, fallback = DEFAULT_LANGUAGE): { lang: string; t: Translate } {
  const lang = englishOnly ? DEFAULT_LANGUAGE : negotiateLanguage(ctx.get('accept-language'), catalogue.languages, fallback);
  if (!englishOnly) ctx.vary('Accept-Language');
  ctx.set('Content-Language', lang);
  return { lang, t: translator(catalogue, lang, { product }) };
}

/** The language and `t` of this request, for what a page's script shows (JSON answers to fetch). */
export function viewLanguage(ctx: Context, views: Views, englishOnly = false): { lang: string; t: Translate } {
  return pageLanguage(ctx, catalogueOf(views), (views.getGlobal('brand') as { name: string }).name, englishOnly, catalogues.get(views)?.fallback);
}

/** What a client's fields say about how pages name it. */
interface NamedClient {
  clientId: string;
  clientName?: string;
  metadata(): Record<string, unknown>;
}

/**
 * How a page names a client: Vigil's own apps (the account page, the admin console) in the
 * reader's language and with the product name (`apps.names.<client id>`), any other by its name.
 */
export function clientNameOf(views: Views, client: NamedClient | undefined): string | Message | undefined {
  if (!client) return undefined;
  const key = `apps.names.${client.clientId}`;
  if (client.metadata().vigil_first_party === true && catalogueOf(views).has(key)) return msg(key);
  return client.clientName ?? client.clientId;
}

/** The admin console's templates are not translated: its pages say they are English, whatever was asked. */
const ENGLISH_ONLY = /^admin\//;

export function renderPage(ctx: Context, views: Views, template: string, vars: Record<string, unknown>, status = 200): void {
  const { lang, t } = viewLanguage(ctx, views, ENGLISH_ONLY.test(template));
  ctx.status = status;
  ctx.type = 'text/html; charset=utf-8';
  ctx.set('Cache-Control', 'no-store');
  ctx.body = views.render(template, { ...vars, lang, t });
}
