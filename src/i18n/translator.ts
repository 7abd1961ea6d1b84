import type { Catalogue, MessageParams } from './catalogue.ts';
import { isMessage, type Message, type MessageValue } from './message.ts';

/** `t` of one language: a key and its values, or a Message; any other text is shown as it is. */
export type Translate = (what: string | Message | undefined | null, params?: Record<string, MessageValue>) => string;

/** `defaults` fill placeholders every message may use (`{product}`: the product name). */
export function translator(catalogue: Catalogue, lang: string, defaults: MessageParams = {}): Translate {
  const t: Translate = (what, params = {}) => {
    if (what === undefined || what === null) return '';
    if (isMessage(what)) return t(what.key, what.params);
    if (!catalogue.has(what)) return what;
    const values: MessageParams = { ...defaults };
    for (const [name, value] of Object.entries(params)) values[name] = isMessage(value) ? t(value) : value;
    return catalogue.format(lang, what, values);
  };
  return t;
}
