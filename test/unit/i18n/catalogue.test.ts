/**
 * The message catalogue (locales/*.json): every language has every key English has, with the same
 * placeholders; every key a people-facing template or Vigil's code names is in the catalogue.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { Catalogue, DEFAULT_LANGUAGE, placeholdersOf, shippedCatalogue, translator } from '../../../src/i18n/index.ts';

const ROOT = join(import.meta.dirname, '../../..');
const catalogue = shippedCatalogue();

function filesUnder(dir: string, ext: string, skip: string[] = []): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (skip.includes(relative(ROOT, path))) return [];
    if (statSync(path).isDirectory()) return filesUnder(path, ext, skip);
    return path.endsWith(ext) ? [path] : [];
  });
}

const KEY = /^[a-zA-Z][a-zA-Z0-9]*(\.[a-zA-Z][a-zA-Z0-9]*)+$/;

/** The keys a template names: t("key") or t('key'), with or without values. */
export function keysInTemplate(text: string): string[] {
  return Array.from(text.matchAll(/\bt\(\s*(["'])([^"']+)\1/g), (m) => m[2]);
}

/** The keys code names: msg('key'), msg(x ? 'a' : 'b'), .t('key'), and a first-party app's label. */
export function keysInCode(text: string): string[] {
  const inCalls = Array.from(text.matchAll(/(?:\bmsg|\.t)\(([^()]*)/g), (m) => Array.from(m[1].matchAll(/'([^']+)'/g), (k) => k[1]).filter((k) => KEY.test(k))).flat();
  const labels = Array.from(text.matchAll(/\blabel: '([^']+)'/g), (m) => m[1]).filter((k) => k.startsWith('apps.'));
  return [...inCalls, ...labels];
}

function missingKeys(files: string[], scan: (text: string) => string[], known: Catalogue): string[] {
  return files.flatMap((file) => scan(readFileSync(file, 'utf8')).filter((key) => !known.has(key)).map((key) => `${relative(ROOT, file)}: ${key}`));
}

test('English and German are both there', () => {
  expect(catalogue.languages.sort()).toEqual(expect.arrayContaining(['de', 'en']));
});

test.each(catalogue.languages.filter((l) => l !== DEFAULT_LANGUAGE))('%s has every key of English and no other, each with the same placeholders', (lang) => {
  const english = catalogue.keys(DEFAULT_LANGUAGE).sort();
  expect(catalogue.keys(lang).sort()).toEqual(english);
  const differing = english.filter((key) => placeholdersOf(catalogue.message(lang, key)!).join() !== placeholdersOf(catalogue.message(DEFAULT_LANGUAGE, key)!).join());
  expect(differing).toEqual([]);
  const untranslatedEmpty = english.filter((key) => !catalogue.message(lang, key)!.trim());
  expect(untranslatedEmpty).toEqual([]);
});

test('every key the people-facing templates (views/, views/mail/) use is in the catalogue', () => {
  const templates = filesUnder(join(ROOT, 'views'), '.njk', ['views/admin']);
  const used = templates.flatMap((file) => keysInTemplate(readFileSync(file, 'utf8')));
  expect(used.length).toBeGreaterThan(80);
  expect(missingKeys(templates, keysInTemplate, catalogue)).toEqual([]);
});

test('every key Vigil\'s code names (msg, t, first-party app labels) is in the catalogue', () => {
  const code = filesUnder(join(ROOT, 'src'), '.ts');
  const used = code.flatMap((file) => keysInCode(readFileSync(file, 'utf8')));
  expect(used.length).toBeGreaterThan(40);
  expect(missingKeys(code, keysInCode, catalogue)).toEqual([]);
});

test('the scanners find a key that is not in the catalogue', () => {
  expect(keysInTemplate('<h1>{{ t("login.title") }}</h1><p>{{ t(\'login.nope\', { a: 1 }) }}</p>')).toEqual(['login.title', 'login.nope']);
  expect(keysInCode(`msg('login.errors.wrong'); msg(x ? 'factor.titleStepUp' : 'factor.nope'); viewLanguage(ctx, v).t('login.gone'); const a = { label: 'apps.nowhere' };`))
    .toEqual(['login.errors.wrong', 'factor.titleStepUp', 'factor.nope', 'login.gone', 'apps.nowhere']);
  expect(catalogue.has('login.nope')).toBe(false);
});

describe('translating', () => {
  const small = new Catalogue(new Map([
    ['en', new Map([['a.hello', 'Hello {name}, welcome to {product}'], ['a.only', 'Only in English'], ['a.wait', 'Wait {wait}.'], ['a.min', '{count} minutes']])],
    ['de', new Map([['a.hello', 'Hallo {name}, willkommen bei {product}'], ['a.wait', 'Warten Sie {wait}.'], ['a.min', '{count} Minuten']])],
  ]));

  test('placeholders are filled, {product} by default; a message as a value is said in the same language', () => {
    const t = translator(small, 'de', { product: 'Acme ID' });
    expect(t('a.hello', { name: 'Ada' })).toBe('Hallo Ada, willkommen bei Acme ID');
    expect(t({ key: 'a.wait', params: { wait: { key: 'a.min', params: { count: 3 } } } })).toBe('Warten Sie 3 Minuten.');
  });

  test('a key a language lacks is said in English; text that is not a key is shown as it is', () => {
    const t = translator(small, 'de');
    expect(t('a.only')).toBe('Only in English');
    expect(t('The server said no.')).toBe('The server said no.');
    expect(t(undefined)).toBe('');
  });

  test('a value is never read as a placeholder of the message', () => {
    expect(translator(small, 'en', { product: 'P' })('a.hello', { name: '{product}' })).toBe('Hello {product}, welcome to P');
  });
});

test('a message given by plural forms takes the form of its count in each language', () => {
  const left = (lang: string, count: number) => catalogue.format(lang, 'account.recoveryLeft', { count });
  expect(left('en', 1)).toMatch(/^1 recovery code left\. It signs/);
  expect(left('en', 7)).toMatch(/^7 recovery codes left\. Each signs/);
  expect(left('en', 0)).toMatch(/^0 recovery codes left/);
  expect(left('de', 1)).toMatch(/^Noch 1 Wiederherstellungscode\. Er/);
  expect(left('de', 2)).toMatch(/^Noch 2 Wiederherstellungscodes\./);
  expect(catalogue.has('account.recoveryLeft')).toBe(true);
  expect(catalogue.format('de', 'common.waitMinutes', { count: 1 })).toBe('1 Minute');
  expect(catalogue.format('en', 'common.waitSeconds', { count: 30 })).toBe('30 seconds');
  // Without a count: the "other" form.
  expect(catalogue.format('en', 'common.days')).toBe('{count} days');
});
