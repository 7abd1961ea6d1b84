/** A value in a message: text, a number, or another message (said in the same language). */
export type MessageValue = string | number | Message | undefined | null;

/**
 * A text for a person, said in their language when it is shown: the code that decides what to say
 * names the message, the page that shows it translates it (`t(message)` in a template).
 */
export interface Message {
  key: string;
  params?: Record<string, MessageValue>;
}

export function msg(key: string, params?: Record<string, MessageValue>): Message {
  return params ? { key, params } : { key };
}

/** A wait (a rate limit's Retry-After) as a person reads it, as a value of a message. */
export function waitMessage(seconds: number): Message {
  if (seconds < 90) return msg('common.waitSeconds', { count: seconds });
  return msg('common.waitMinutes', { count: Math.ceil(seconds / 60) });
}

export function isMessage(value: unknown): value is Message {
  return typeof value === 'object' && value !== null && typeof (value as Message).key === 'string';
}
