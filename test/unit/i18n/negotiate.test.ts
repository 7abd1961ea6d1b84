/** Accept-Language negotiation: quality values, primary subtags, refusals, and anything malformed ignored. */
import { negotiateLanguage } from '../../../src/i18n/index.ts';

const AVAILABLE = ['en', 'de'];

test.each([
  [undefined, 'en'],
  ['', 'en'],
  ['de', 'de'],
  ['de-AT', 'de'],
  ['DE-ch', 'de'],
  ['fr, de;q=0.5, en;q=0.4', 'de'],
  ['en;q=0.5, de;q=0.8', 'de'],
  ['de;q=0.8, en;q=0.8', 'de'],
  ['de;q=0, en', 'en'],
  ['de;q=0', 'en'],
  ['fr, it', 'en'],
  ['*', 'en'],
  ['fr, *;q=0.5, de;q=0.1', 'en'],
  ['de;q=1.5, en;q=0.2', 'en'],
  ['de;q=abc', 'en'],
  ['<script>, de', 'de'],
  [`${'x-'.repeat(5000)}de`, 'en'],
  [`${Array.from({ length: 40 }, () => 'fr').join(',')},de`, 'en'],
])('Accept-Language %j is answered in %s', (header, lang) => {
  expect(negotiateLanguage(header, AVAILABLE, 'en')).toBe(lang);
});
