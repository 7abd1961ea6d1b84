import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const LOCALES_DIR = fileURLToPath(new URL('../../locales/', import.meta.url));
/** Every page falls back to it, and every other language is checked against it. */
export const DEFAULT_LANGUAGE = 'en';
const LANGUAGE_FILE = /^([a-z]{2,3}(-[A-Za-z0-9]{2,8})*)\.json$/;
const PLACEHOLDER = /\{([a-zA-Z][a-zA-Z0-9_]*)\}/g;

export type MessageParams = Record<string, string | number | undefined | null>;

export class CatalogueError extends Error {
  override name = 'CatalogueError';
}

/** The placeholders a message uses, e.g. ["client", "email"] for "{client} needs … {email}". */
export function placeholdersOf(message: string): string[] {
  return [...new Set(Array.from(message.matchAll(PLACEHOLDER), (m) => m[1]))].sort();
}

/** Nested keys become dotted ones: {"login": {"title": "…"}} is `login.title`. */
function flatten(value: unknown, prefix: string, into: Map<string, string>, file: string): void {
  if (typeof value === 'string') {
    into.set(prefix, value);
    return;
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new CatalogueError(`${file}: ${prefix || '(top)'} must be a string or an object of strings`);
  }
  for (const [key, inner] of Object.entries(value)) flatten(inner, prefix ? `${prefix}.${key}` : key, into, file);
}

/** The messages of every language, by dotted key; a key missing from a language is said in English. */
export class Catalogue {
  readonly #messages: ReadonlyMap<string, ReadonlyMap<string, string>>;

  constructor(messages: ReadonlyMap<string, ReadonlyMap<string, string>>) {
    if (!messages.has(DEFAULT_LANGUAGE)) throw new CatalogueError(`the catalogue has no ${DEFAULT_LANGUAGE}.json`);
    this.#messages = messages;
  }

  get languages(): string[] {
    return [...this.#messages.keys()];
  }

  keys(lang: string): string[] {
    return [...(this.#messages.get(lang)?.keys() ?? [])];
  }

  message(lang: string, key: string): string | undefined {
    return this.#messages.get(lang)?.get(key) ?? this.#messages.get(DEFAULT_LANGUAGE)!.get(key);
  }

  /** A message, or one given by plural forms (`key_one`, `key_other`, …). */
  has(key: string): boolean {
    const english = this.#messages.get(DEFAULT_LANGUAGE)!;
    return english.has(key) || english.has(`${key}${PLURAL_SEPARATOR}other`);
  }

  /**
   * The message in `lang` with its placeholders filled in; an unknown key is answered as itself.
   * A key given by plural forms takes the form of `params.count` in that language (CLDR categories:
   * `key_one`, `key_few`, …, `key_other` as the fallback).
   */
  format(lang: string, key: string, params: MessageParams = {}): string {
    const message = this.message(lang, key) ?? this.#plural(lang, key, params.count);
    if (message === undefined) return key;
    return message.replace(PLACEHOLDER, (whole, name: string) => {
      const value = params[name];
      return value === undefined || value === null ? whole : String(value);
    });
  }

  #plural(lang: string, key: string, count: MessageParams[string]): string | undefined {
    const forms = this.#messages.has(lang) && this.#messages.get(lang)!.has(`${key}${PLURAL_SEPARATOR}other`) ? lang : DEFAULT_LANGUAGE;
    const category = typeof count === 'number' ? new Intl.PluralRules(forms).select(count) : 'other';
    return this.#messages.get(forms)!.get(`${key}${PLURAL_SEPARATOR}${category}`) ?? this.#messages.get(forms)!.get(`${key}${PLURAL_SEPARATOR}other`);
  }
}

/** Between a key and its plural category: `account.recoveryLeft_one`. */
const PLURAL_SEPARATOR = '_';
/** Reads every `<language>.json` of the directory (nested or flat keys, string values). */
export function loadCatalogue(dir = LOCALES_DIR): Catalogue {
  const messages = new Map<string, Map<string, string>>();
  for (const file of readdirSync(dir).sort()) {
    const lang = LANGUAGE_FILE.exec(file)?.[1];
    if (!lang) continue;
    let parsed: unknown;
    try {
      parsed = JSON.parse(readFileSync(join(dir, file), 'utf8'));
    } catch (err) {
      throw new CatalogueError(`${join(dir, file)}: not valid JSON (${(err as Error).message})`);
    }
    const flat = new Map<string, string>();
    flatten(parsed, '', flat, join(dir, file));
    messages.set(lang, flat);
  }
  return new Catalogue(messages);
}

let shipped: Catalogue | undefined;

/** The catalogue in locales/, read once. */
export function shippedCatalogue(): Catalogue {
  shipped ??= loadCatalogue();
  return shipped;
}
