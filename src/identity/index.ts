export { AccountStore, AccountError, emailSchema, roleSchema, type Account } from './accounts.ts';
export { hashPassword, verifyPassword, passwordProblem, passwordProblemMessage, PASSWORD_MIN_LENGTH, PASSWORD_MAX_LENGTH } from './password.ts';
export { ensureAdministrator, type BootstrapResult } from './bootstrap.ts';
export { AccountCache } from './account-cache.ts';
export { changeRoles, type RolesChange } from './roles.ts';
export { disableAccount, type AccountRevoker, type DisableCause } from './disable.ts';
export { changeProfile, type ProfileChange } from './profile.ts';
export { EmailLinks, type EmailLink, type EmailLinkKind, type StoredLinkKind, type EmailLinkProblem, type EmailLinkState } from './email-links.ts';
