export { createApp, type AppDeps } from './app.ts';
export { catalogueOf, clientNameOf, createViews, pageLanguage, renderPage, viewLanguage, VIEWS_DIR, type ViewOptions, type Views } from './views.ts';
export { providerPages } from './pages.ts';
export { ProxyTrust } from './client-ip.ts';
export { readForm, readJson, FormError } from './form.ts';
export { BearerError, bearerToken, verifyAccessToken, type BearerErrorCode, type TokenCheck, type TokenHolder } from './bearer.ts';
export { ApiError } from './api-error.ts';
export { firstIssue, type FirstIssueOptions } from './zod-issue.ts';
export { jwksMaxAge } from './metadata-caching.ts';
