/**
 * The fields of an `ldap` provider in the federation file. The core merges `ldapFields` into its
 * provider union and applies `checkLdapFields` to the merged object (the checks that need two
 * fields at once: the transport).
 */
import { readFileSync } from 'node:fs';
import { X509Certificate } from 'node:crypto';
import { z } from 'zod';
import { filterProblem } from './filter.ts';

export const DEFAULT_USER_FILTER = '(&(objectClass=person)(mail={login}))';
export const DEFAULT_GROUP_FILTER = '(member={dn})';

const filter = (placeholders: string[]) => z.string().min(2).max(1024).superRefine((value, ctx) => {
  const missing = placeholders.filter((p) => !value.includes(`{${p}}`));
  if (missing.length > 0) ctx.addIssue({ code: 'custom', message: `must contain ${missing.map((p) => `{${p}}`).join(' and ')}` });
  const problem = filterProblem(placeholders.reduce((f, p) => f.replaceAll(`{${p}}`, 'x'), value));
  if (problem) ctx.addIssue({ code: 'custom', message: problem });
});

const ldapUrl = z.string().max(2048).superRefine((value, ctx) => {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    ctx.addIssue({ code: 'custom', message: 'must be an ldaps:// or ldap:// URL' });
    return;
  }
  if (url.protocol !== 'ldaps:' && url.protocol !== 'ldap:') ctx.addIssue({ code: 'custom', message: 'must be an ldaps:// or ldap:// URL' });
  else if (!url.hostname) ctx.addIssue({ code: 'custom', message: 'must name a host' });
  else if ((url.pathname !== '' && url.pathname !== '/') || url.search || url.hash || url.username) {
    ctx.addIssue({ code: 'custom', message: 'only scheme, host and port (the base DN is base_dn)' });
  }
});

/** Read now, so a missing or wrong file stops the load instead of the first sign-in. */
const caFile = z.string().min(1).max(4096).transform((path, ctx) => {
  let pem: string;
  try {
    pem = readFileSync(path, 'utf8');
  } catch (err) {
    ctx.addIssue({ code: 'custom', message: `cannot read ${path}: ${(err as Error).message}` });
    return z.NEVER;
  }
  try {
    if (!pem.includes('-----BEGIN CERTIFICATE-----')) throw new Error('no PEM certificate in it');
    new X509Certificate(pem);
  } catch (err) {
    ctx.addIssue({ code: 'custom', message: `${path}: not a PEM certificate (${(err as Error).message})` });
    return z.NEVER;
  }
  return { path, pem };
});

const attributeName = z.string().regex(/^[A-Za-z][A-Za-z0-9-]{0,127}$/, 'must be an LDAP attribute name');

export const ldapFields = {
  /** ldaps:// (TLS from the first byte), or ldap:// with start_tls. */
  url: ldapUrl,
  start_tls: z.boolean().default(false),
  /** PEM of the CA(s) the directory's certificate is checked against (the system's when unset). */
  ca_file: caFile.optional(),
  /** The service account that finds people and re-checks them. */
  bind_dn: z.string().min(1).max(1024),
  /** Sealed in the file; the core opens it and hands the plaintext to createLdapSource. */
  bind_password: z.string().min(1).max(8192),
  base_dn: z.string().min(1).max(1024),
  /** `{login}` is what the person typed, escaped per RFC 4515. */
  user_filter: filter(['login']).default(DEFAULT_USER_FILTER),
  attributes: z.strictObject({
    /** The stable subject: entryUUID (OpenLDAP), objectGUID (Active Directory). */
    id: attributeName.default('entryUUID'),
    email: attributeName.default('mail'),
    name: attributeName.default('cn'),
    /** Holds the person's groups' DNs (memberOf); ignored when group_search is set. */
    groups: attributeName.default('memberOf'),
  }).prefault({}),
  /** For directories without memberOf: the groups are the entries this search finds, `{dn}` the person's DN. */
  group_search: z.strictObject({
    base_dn: z.string().min(1).max(1024),
    filter: filter(['dn']).default(DEFAULT_GROUP_FILTER),
  }).optional(),
  /** How a group is named to group_roles: its full DN (default; unambiguous) or its first RDN's value (cn). */
  group_name: z.enum(['dn', 'cn']).default('dn'),
  /** Active Directory: an account is disabled when userAccountControl has ACCOUNTDISABLE (0x2). */
  active_directory: z.boolean().default(false),
  /** Otherwise: an entry this filter matches is disabled, e.g. (pwdAccountLockedTime=*). */
  disabled_filter: filter([]).optional(),
  /** Bounds connecting (TCP, TLS, StartTLS) and each operation; a whole conversation gets twice this. */
  timeout_seconds: z.number().positive().max(60).default(5),
  /** How often a refresh of a session signed in through this directory re-checks the entry (0: every refresh). */
  recheck_seconds: z.number().int().min(0).max(86400).default(300),
  /**
   * A refresh while the directory is unreachable is allowed when the person's entry was last
   * found active at most this long ago; 0 refuses it (fail closed).
   */
  unreachable_grace_seconds: z.number().int().min(0).max(7 * 86400).default(0),
};

const transport = { url: ldapFields.url, start_tls: ldapFields.start_tls };
type Transport = z.output<z.ZodObject<typeof transport>>;

/** A password never crosses the network in cleartext: ldaps://, or ldap:// upgraded by StartTLS. */
export function checkLdapFields(value: Transport, ctx: z.RefinementCtx): void {
  const plain = value.url.toLowerCase().startsWith('ldap://');
  if (plain && !value.start_tls) {
    ctx.addIssue({ code: 'custom', path: ['url'], message: 'ldap:// sends passwords in cleartext: use ldaps://, or set start_tls: true' });
  }
  if (!plain && value.start_tls) ctx.addIssue({ code: 'custom', path: ['start_tls'], message: 'start_tls is for ldap:// URLs (ldaps:// is TLS already)' });
}

export const ldapSettingsSchema = z.strictObject(ldapFields).superRefine(checkLdapFields);
export type LdapSettings = z.output<typeof ldapSettingsSchema>;
