/**
 * The console's edge: refusals people can read (never a stack trace), the same-origin check of
 * every POST, and the input schemas of query strings, route parameters and forms.
 */
import type { Context, Next } from 'koa';
import { z } from 'zod';
import { firstIssue, FormError, renderPage, type Views } from '../http/index.ts';
import type { Logger } from '../observability/index.ts';
import { storeOutage } from '../store/index.ts';
import { ApiError } from '../http/api-error.ts';
import { activityKind, reasonSchema } from './schemas.ts';

/** A request the console refuses, with what to tell the person. */
export class ConsoleRefusal extends Error {
  override name = 'ConsoleRefusal';
  readonly status: number;
  readonly title: string;

  constructor(status: number, title: string, message: string) {
    super(message);
    this.status = status;
    this.title = title;
  }
}

const TITLES: Record<number, string> = { 400: 'That request was not valid', 403: 'Not allowed', 404: 'Not found', 409: 'Not possible now', 413: 'Too large', 415: 'Not a form' };

/** Every console response is a console page, whatever went wrong underneath. */
export function consoleBoundary(views: Views, logger: Logger) {
  return async (ctx: Context, next: Next) => {
    try {
      await next();
    } catch (thrown) {
      // An unreachable store is the error boundary's: a 503 page with Retry-After, not a 500.
      if (storeOutage(thrown)) throw thrown;
      let status = 500;
      let message = 'Something went wrong on our side. Please try again.';
      let title: string | undefined;
      if (thrown instanceof ConsoleRefusal) {
        ({ status, title, message } = thrown);
      } else if (thrown instanceof ApiError || thrown instanceof FormError) {
        ({ status, message } = thrown);
      } else if ((thrown as { expose?: boolean; status?: number }).expose && ((thrown as { status?: number }).status ?? 500) < 500) {
        status = (thrown as { status: number }).status;
        message = (thrown as Error).message;
      }
      if (status >= 500) logger.error({ err: thrown }, 'admin console request failed');
      else logger.info({ status, reason: message }, 'admin console request refused');
      renderPage(ctx, views, 'admin/refused.njk', { title: title ?? TITLES[status] ?? 'Something went wrong', message, status }, status);
    }
  };
}

/**
 * A form POST must come from the console's own pages: the browser's Origin says where it was sent
 * from. Under `Referrer-Policy: no-referrer` a form's Origin is "null", so then Sec-Fetch-Site
 * (which pages cannot set) decides. The CSRF token is checked separately.
 */
export function checkSameOrigin(ctx: Context, issuerOrigin: string): void {
  const origin = ctx.get('origin');
  const site = ctx.get('sec-fetch-site');
  const same = origin && origin !== 'null' ? origin === issuerOrigin : site === 'same-origin';
  if (!same) throw new ConsoleRefusal(403, 'Not allowed', 'This form was sent from another site. Open the admin console and try again.');
}

const id = z.string().trim().min(1).max(200).regex(/^[A-Za-z0-9._:@+-]+$/);
const optionalText = (max: number) => z.string().trim().max(max).optional().transform((v) => (v ? v : undefined));
const optionalDate = z.string().trim().max(40).optional()
  .transform((v, ctx) => {
    if (!v) return undefined;
    const date = new Date(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}$/.test(v) ? `${v}:00Z` : v);
    if (Number.isNaN(date.getTime())) {
      ctx.addIssue({ code: 'custom', message: `"${v}" is not a date and time` });
      return z.NEVER;
    }
    return date;
  });
const cursor = optionalText(1000);

export const schemas = {
  id,
  sessionFilter: z.object({
    account: optionalText(200),
    client: optionalText(200),
    level: z.enum(['', 'low', 'medium', 'high']).optional().transform((v) => (v ? v : undefined)),
    country: z.string().trim().toUpperCase().regex(/^([A-Z]{2})?$/, 'a country is two letters (ISO 3166-1)').optional().transform((v) => (v ? v : undefined)),
    since: optionalDate,
    cursor,
  }),
  accountFilter: z.object({ query: optionalText(200), cursor }),
  page: z.object({ cursor }),
  auditFilter: z.object({
    from: optionalDate, to: optionalDate, actor: optionalText(200), subject: optionalText(200), action: optionalText(100),
    kind: z.union([z.literal(''), activityKind]).optional().transform((v) => (v ? v : undefined)),
    views: z.enum(['1', 'on']).optional().transform((v) => v !== undefined), cursor }),
  reason: z.object({ reason: z.string().trim().pipe(z.union([z.literal(''), reasonSchema])).optional().transform((v) => v || 'from the admin console') }).loose(),
};

/** Parses input or refuses it with the first problem, in words. */
export function parse<T extends z.ZodType>(schema: T, input: unknown, what: string): z.output<T> {
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  throw new ConsoleRefusal(400, 'That request was not valid', `${what}: ${firstIssue(result.error)}`);
}

/** One value of a query string (a repeated parameter is refused). */
export function queryOf(ctx: Context): Record<string, string | undefined> {
  const out: Record<string, string | undefined> = {};
  for (const [key, value] of Object.entries(ctx.query)) {
    if (Array.isArray(value)) throw new ConsoleRefusal(400, 'That request was not valid', `The parameter "${key}" was sent more than once.`);
    out[key] = value;
  }
  return out;
}
