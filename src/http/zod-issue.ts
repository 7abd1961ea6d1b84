/** The first issue of a zod error, in words: `events_requested.0: …`. */
import type { z } from 'zod';

export interface FirstIssueOptions {
  /** Stands for an empty path; without it, an issue at the root is its message alone. */
  root?: string;
  /** Names the unknown keys of an `unrecognized_keys` issue instead of using zod's wording. */
  nameUnknownKeys?: boolean;
  /** Cuts the text to this many characters. */
  maxLength?: number;
}

export function firstIssue(error: z.ZodError, options: FirstIssueOptions = {}): string {
  // safeParse fails only with at least one issue.
  const issue = error.issues[0];
  const message = options.nameUnknownKeys && issue.code === 'unrecognized_keys'
    ? `unknown parameter ${issue.keys.map((k) => JSON.stringify(k)).join(', ')}`
    : issue.message;
  const place = issue.path.map(String).join('.') || options.root;
  const text = place === undefined ? message : `${place}: ${message}`;
  return options.maxLength === undefined ? text : text.slice(0, options.maxLength);
}
