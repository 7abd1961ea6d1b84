export { ldapFields, checkLdapFields, ldapSettingsSchema, DEFAULT_USER_FILTER, DEFAULT_GROUP_FILTER, type LdapSettings } from './config.ts';
export { createLdapSource, type LdapProvider, type LdapSourceDeps } from './source.ts';
export { escapeFilterValue, fillFilter } from './filter.ts';
export { ldapRefreshCheck, LdapRechecks, LdapRefreshRefused, type LdapLink, type LdapRefreshVerdict, type LdapRefreshInput } from './refresh.ts';
