/**
 * LDAP / Active Directory as a password source: the service account finds the person, the
 * directory checks the password by a bind as that person, and the entry's attributes and groups
 * become the external identity.
 */
import { EqualityFilter, InvalidCredentialsError, NoSuchObjectError, SizeLimitExceededError, type Client, type Entry, type Filter } from 'ldapts';
import { FederationError, type ExternalIdentity, type PasswordSource } from '../source.ts';
import type { LdapSettings } from './config.ts';
import { converse, isDirectoryAnswer, type Conversation } from './connection.ts';
import { fillFilter } from './filter.ts';
import { decodeId, encodeId, isBinaryId } from './ids.ts';

/** The provider as the core loaded it: the common fields it needs plus the ldap ones. */
export type LdapProvider = LdapSettings & { id: string; trust_email_verified?: boolean };

export interface LdapSourceDeps {
  /** The service account's password, opened from its sealed form by the core. */
  bindPassword: string;
}

/** userAccountControl's ACCOUNTDISABLE bit. */
const ACCOUNTDISABLE = 0x2;
/** Logins longer than this are nobody's (and never reach the directory). */
const MAX_LOGIN = 256;

const first = (value: Entry[string] | undefined): string | Buffer | undefined => (Array.isArray(value) ? value[0] : value);
const text = (value: Entry[string] | undefined): string | undefined => {
  const v = first(value);
  return v === undefined ? undefined : Buffer.isBuffer(v) ? v.toString('utf8') : v;
};
const texts = (value: Entry[string] | undefined): string[] => (value === undefined ? [] : (Array.isArray(value) ? value : [value]))
  .map((v) => (Buffer.isBuffer(v) ? v.toString('utf8') : v));
/** Attribute names come back in the directory's case. */
const attribute = (entry: Entry, name: string): Entry[string] | undefined => {
  const key = Object.keys(entry).find((k) => k.toLowerCase() === name.toLowerCase());
  return key === undefined ? undefined : entry[key];
};

/** `cn=Admins,ou=groups,...` → `Admins` (the value of the first RDN, unescaped of the simple cases). */
const firstRdnValue = (dn: string): string => {
  const match = /^[^=]+=((?:\\.|[^,])*)/.exec(dn);
  return (match?.[1] ?? dn).replace(/\\(.)/g, '$1').trim();
};

export function createLdapSource(provider: LdapProvider, deps: LdapSourceDeps): PasswordSource {
  const settings = provider;
  const attrs = settings.attributes;
  const wanted = [attrs.id, attrs.email, attrs.name, ...(settings.group_search ? [] : [attrs.groups]), ...(settings.active_directory ? ['userAccountControl'] : [])];
  const searchOptions = (filter: string | Filter, scope: 'sub' | 'base', attributes: string[]) => ({
    scope, filter, attributes, sizeLimit: 2, timeLimit: Math.ceil(settings.timeout_seconds),
    ...(isBinaryId(attrs.id) ? { explicitBufferAttributes: [attrs.id] } : {}),
  });

  const conversation = <T>(work: (c: Conversation) => Promise<T>) => converse(provider.id, settings, async (c) => {
    // Without a password the service "bind" would be unauthenticated, and every search anonymous.
    if (deps.bindPassword.length === 0) throw new FederationError('service_bind_failed', `no service password for ${provider.id}`, true);
    try {
      await c.client.bind(settings.bind_dn, deps.bindPassword);
    } catch (err) {
      if (!isDirectoryAnswer(err)) throw err;
      throw new FederationError('service_bind_failed', `the directory of ${provider.id} refused the service account (${err.message.split('\n')[0]})`, true);
    }
    return work(c);
  });

  /** The one entry a filter finds under the base DN; undefined for none or several. */
  const findOne = async (client: Client, filter: string | Filter, attributes: string[]): Promise<Entry | undefined> => {
    try {
      const { searchEntries } = await client.search(settings.base_dn, searchOptions(filter, 'sub', attributes));
      return searchEntries.length === 1 ? searchEntries[0] : undefined;
    } catch (err) {
      // Two or more: as ambiguous as none.
      if (err instanceof SizeLimitExceededError) return undefined;
      throw err;
    }
  };

  /** The entry at a DN, when it still exists (and, given a filter, matches it). */
  const atDn = async (client: Client, dn: string, filter: string, attributes: string[]): Promise<Entry | undefined> => {
    try {
      const { searchEntries } = await client.search(dn, searchOptions(filter, 'base', attributes));
      return searchEntries[0];
    } catch (err) {
      if (err instanceof NoSuchObjectError) return undefined;
      throw err;
    }
  };

  const disabled = async (client: Client, entry: Entry): Promise<boolean> => {
    if (settings.active_directory) {
      const uac = Number(text(attribute(entry, 'userAccountControl')) ?? '0');
      if (Number.isFinite(uac) && (uac & ACCOUNTDISABLE) !== 0) return true;
    }
    // Evaluated by the directory, with its own matching rules and operational attributes.
    return settings.disabled_filter !== undefined && await atDn(client, entry.dn, settings.disabled_filter, ['1.1']) !== undefined;
  };

  const groupsOf = async (client: Client, entry: Entry): Promise<string[]> => {
    let dns: string[];
    if (settings.group_search) {
      const { searchEntries } = await client.search(settings.group_search.base_dn, {
        scope: 'sub', filter: fillFilter(settings.group_search.filter, { dn: entry.dn }), attributes: ['1.1'], timeLimit: Math.ceil(settings.timeout_seconds),
      });
      dns = searchEntries.map((g) => g.dn);
    } else {
      dns = texts(attribute(entry, attrs.groups));
    }
    return settings.group_name === 'cn' ? dns.map(firstRdnValue) : dns;
  };

  const subjectOf = (entry: Entry): string => {
    const value = first(attribute(entry, attrs.id));
    if (value === undefined || value.length === 0) {
      throw new FederationError('missing_attribute', `the directory entry has no ${attrs.id} (attributes.id of ${provider.id})`);
    }
    return decodeId(attrs.id, value);
  };

  return {
    kind: 'ldap',
    id: provider.id,

    async authenticate(login, password) {
      // An empty password is an unauthenticated bind (RFC 4513 §5.1.2), which succeeds: never send one.
      if (password.length === 0 || login.length === 0 || login.length > MAX_LOGIN) return undefined;
      return conversation(async ({ client }) => {
        const entry = await findOne(client, fillFilter(settings.user_filter, { login }), wanted);
        if (!entry) return undefined;
        const isDisabled = await disabled(client, entry);
        const groups = await groupsOf(client, entry);
        const subject = subjectOf(entry);
        try {
          await client.bind(entry.dn, password);
        } catch (err) {
          // A wrong password, a locked account (ppolicy), AD's disabled (data 533): all "no".
          if (err instanceof InvalidCredentialsError || isDirectoryAnswer(err)) return undefined;
          throw err;
        }
        // Said only after the password was right: the state of an account is not for guessers.
        if (isDisabled) throw new FederationError('account_disabled', `the directory account is disabled (${provider.id})`);
        const email = text(attribute(entry, attrs.email));
        const name = text(attribute(entry, attrs.name));
        const identity: ExternalIdentity = {
          provider: provider.id,
          subject,
          emailVerified: email !== undefined && provider.trust_email_verified === true,
          groups,
          amr: ['pwd'],
          distinguishedName: entry.dn,
          ...(email !== undefined ? { email } : {}),
          ...(name !== undefined ? { name } : {}),
        };
        return identity;
      });
    },

    async stillActive(identity) {
      return conversation(async ({ client }) => {
        const attributes = [attrs.id, ...(settings.active_directory ? ['userAccountControl'] : [])];
        const sameSubject = (e: Entry | undefined) => (e && first(attribute(e, attrs.id)) !== undefined && subjectOf(e) === identity.subject ? e : undefined);
        // The DN first (one base lookup); a renamed or moved entry is found again by its id.
        let entry = identity.distinguishedName ? sameSubject(await atDn(client, identity.distinguishedName, '(objectClass=*)', attributes)) : undefined;
        if (!entry) {
          // A filter object, not a string: ldapts would re-encode a binary value's escaped bytes as UTF-8.
          entry = sameSubject(await findOne(client, new EqualityFilter({ attribute: attrs.id, value: encodeId(attrs.id, identity.subject) }), attributes));
        }
        return entry !== undefined && !await disabled(client, entry);
      });
    },

    async check() {
      return conversation(async (c) => {
        const base = await atDn(c.client, settings.base_dn, '(objectClass=*)', ['1.1']);
        if (!base) throw new FederationError('no_base_dn', `${settings.url}: bound as ${settings.bind_dn}, but the base DN ${settings.base_dn} does not exist or is not readable`);
        const transport = settings.start_tls ? 'StartTLS' : 'LDAPS';
        return `${settings.url}: ${transport} (${c.tlsVersion() ?? 'TLS'}), bound as ${settings.bind_dn}, base DN ${settings.base_dn} found`;
      });
    },
  };
}
