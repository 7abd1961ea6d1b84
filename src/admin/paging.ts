/**
 * Keyset pagination for the admin views: a page is "the next `limit` rows after this sort key",
 * never an offset (an offset skips or repeats rows while the table changes under the reader).
 */
import { AdminError, type Page, type PageRequest } from './types.ts';

export const DEFAULT_PAGE_SIZE = 50;
export const MAX_PAGE_SIZE = 200;

const badCursor = () => new AdminError(400, 'invalid_request', 'cursor is not one this API handed out');

/** The page size asked for, 1–200 (50 when absent). */
export function pageSize(request: PageRequest): number {
  const limit = request.limit ?? DEFAULT_PAGE_SIZE;
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_PAGE_SIZE) throw new AdminError(400, 'invalid_request', `limit must be an integer from 1 to ${MAX_PAGE_SIZE}`);
  return limit;
}

/** An opaque cursor holding the sort key of the last row shown. */
export function encodeCursor(key: readonly string[]): string {
  return Buffer.from(JSON.stringify(key)).toString('base64url');
}

/** The sort key in `cursor`, each part matching its pattern; anything else is a 400. */
export function decodeCursor(cursor: string | undefined, parts: readonly RegExp[]): string[] | undefined {
  if (cursor === undefined) return undefined;
  if (cursor.length > 1024 || !/^[A-Za-z0-9_-]+$/.test(cursor)) throw badCursor();
  let key: unknown;
  try {
    key = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    throw badCursor();
  }
  if (!Array.isArray(key) || key.length !== parts.length || !key.every((k, i) => typeof k === 'string' && parts[i].test(k))) throw badCursor();
  return key as string[];
}

/** The first `limit` of `rows` (fetched `limit + 1`), with a cursor when there are more. */
export function toPage<R, T>(rows: readonly R[], limit: number, view: (row: R) => T, keyOf: (row: R) => string[]): Page<T> {
  const shown = rows.slice(0, limit);
  const page: Page<T> = { items: shown.map(view) };
  if (rows.length > limit) page.next = encodeCursor(keyOf(shown[shown.length - 1]));
  return page;
}

/** Digits only: a bigint id or a time in microseconds since the epoch. */
export const DIGITS = /^\d{1,20}$/;

