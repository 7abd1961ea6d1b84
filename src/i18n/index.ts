export { Catalogue, CatalogueError, DEFAULT_LANGUAGE, LOCALES_DIR, loadCatalogue, placeholdersOf, shippedCatalogue, type MessageParams } from './catalogue.ts';
export { negotiateLanguage } from './negotiate.ts';
export { isMessage, msg, waitMessage, type Message, type MessageValue } from './message.ts';
export { translator, type Translate } from './translator.ts';
