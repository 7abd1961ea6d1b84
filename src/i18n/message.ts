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

export function isMessage(value: unknown): value is Message {
  return typeof value === 'object' && value !== null && typeof (value as Message).key === 'string';
}
