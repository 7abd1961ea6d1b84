import { fileURLToPath } from 'node:url';
import nunjucks from 'nunjucks';
import type { Context } from 'koa';

export const VIEWS_DIR = fileURLToPath(new URL('../../views/', import.meta.url));

/** Templates autoescape every value; only markup produced by Vigil itself is marked safe. */
export function createViews(dir = VIEWS_DIR, cache = true): nunjucks.Environment {
  return new nunjucks.Environment(new nunjucks.FileSystemLoader(dir, { noCache: !cache }), { autoescape: true, throwOnUndefined: false });
}

export type Views = nunjucks.Environment;

export function renderPage(ctx: Context, views: Views, template: string, vars: Record<string, unknown>, status = 200): void {
  ctx.status = status;
  ctx.type = 'text/html; charset=utf-8';
  ctx.set('Cache-Control', 'no-store');
  ctx.body = views.render(template, vars);
}
