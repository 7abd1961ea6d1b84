import type { Context } from 'koa';

export class FormError extends Error {
  override name = 'FormError';
  readonly status: number;

  constructor(status: number, message: string) {
    super(message);
    this.status = status;
  }
}

/** The raw body as text, refused (413) past `limit` bytes, declared or sent. */
export async function readBody(ctx: Context, limit: number): Promise<string> {
  const declared = Number(ctx.get('content-length') || 0);
  if (declared > limit) throw new FormError(413, 'The request body is too large.');
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of ctx.req) {
    size += (chunk as Buffer).length;
    if (size > limit) throw new FormError(413, 'The request body is too large.');
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** Reads a JSON object body of at most `limit` bytes (the pages' scripts send these). */
export async function readJson(ctx: Context, limit = 64 * 1024): Promise<Record<string, unknown>> {
  if (!ctx.is('application/json')) throw new FormError(415, 'This request must be sent as application/json.');
  let value: unknown;
  try {
    value = JSON.parse(await readBody(ctx, limit));
  } catch (err) {
    if (err instanceof FormError) throw err;
    throw new FormError(400, 'The request body is not valid JSON.');
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new FormError(400, 'The request body must be a JSON object.');
  return value as Record<string, unknown>;
}

/**
 * Reads an application/x-www-form-urlencoded body of at most `limit` bytes. A repeated field
 * is refused: the page never sends one, so it signals tampering.
 */
export async function readForm(ctx: Context, limit = 16 * 1024): Promise<Record<string, string>> {
  if (!ctx.is('application/x-www-form-urlencoded')) throw new FormError(415, 'This form must be sent as application/x-www-form-urlencoded.');
  const params = new URLSearchParams(await readBody(ctx, limit));
  const form: Record<string, string> = {};
  for (const [key, value] of params) {
    if (Object.hasOwn(form, key)) throw new FormError(400, `The field "${key}" was sent more than once.`);
    form[key] = value;
  }
  return form;
}
