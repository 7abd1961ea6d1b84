/**
 * Users as SCIM resources (RFC 7643 §4.1 and the enterprise extension §4.3): an account and its
 * SCIM record in, a resource out; a resource a client sent in, the account's values and the
 * record's attributes out. Attribute names are matched without regard to case.
 */
import { createHash } from 'node:crypto';
import type { Account } from '../identity/index.ts';
import { invalidValue, ScimError } from './errors.ts';
import type { ScimRecord } from './store.ts';

export const USER_SCHEMA = 'urn:ietf:params:scim:schemas:core:2.0:User';
export const ENTERPRISE_SCHEMA = 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User';
export const LIST_SCHEMA = 'urn:ietf:params:scim:api:messages:2.0:ListResponse';

/** What a client may write, by lower-cased name, with its canonical spelling. */
const CORE = ['userName', 'externalId', 'name', 'displayName', 'emails', 'active', 'schemas', 'id', 'meta'];
const NAME = ['formatted', 'familyName', 'givenName', 'middleName', 'honorificPrefix', 'honorificSuffix'];
const EMAIL = ['value', 'type', 'primary', 'display'];
const ENTERPRISE = ['employeeNumber', 'costCenter', 'organization', 'division', 'department', 'manager'];
const canonical = (names: string[]) => new Map(names.map((n) => [n.toLowerCase(), n]));
export const CORE_NAMES = canonical(CORE);
export const SUB_NAMES: Record<string, Map<string, string>> = { name: canonical(NAME), emails: canonical(EMAIL), [ENTERPRISE_SCHEMA]: canonical(ENTERPRISE) };

/** A user as the service writes it. */
export interface UserInput {
  userName: string;
  displayName: string;
  /** Undefined when not sent: a create makes the user active, a replace keeps what it was. */
  active: boolean | undefined;
  externalId: string | null;
  /** Kept in the SCIM record: name, emails, the enterprise extension. */
  attributes: Record<string, unknown>;
}

const text = (value: unknown, what: string, max = 512): string => {
  if (typeof value !== 'string' || value.length > max) throw invalidValue(`${what} must be a string of at most ${max} characters`);
  return value;
};

/** Entra ID sends booleans as the strings "True" and "False". */
export function bool(value: unknown, what: string): boolean {
  if (typeof value === 'boolean') return value;
  if (typeof value === 'string' && /^(true|false)$/i.test(value)) return value.toLowerCase() === 'true';
  throw invalidValue(`${what} must be true or false`);
}

/** A complex attribute with only the sub-attributes known, spelled canonically. */
function complex(value: unknown, names: Map<string, string>, what: string): Record<string, unknown> {
  if (!value || typeof value !== 'object' || Array.isArray(value)) throw invalidValue(`${what} must be an object`);
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) {
    const name = names.get(k.toLowerCase());
    if (!name) throw new ScimError(400, `${what}.${k} is not an attribute Vigil knows`, 'invalidValue');
    if (v === null) continue;
    if (name === 'primary') out[name] = bool(v, `${what}.primary`);
    else if (name === 'manager') out[name] = complex(v, canonical(['value', '$ref', 'displayName']), `${what}.manager`);
    else out[name] = text(v, `${what}.${name}`);
  }
  return out;
}

/** A resource a client sent (POST, PUT, or the result of a PATCH) as what Vigil stores. */
export function readUser(body: Record<string, unknown>): UserInput {
  const attributes: Record<string, unknown> = {};
  let userName: string | undefined;
  let displayName = '';
  let active: boolean | undefined;
  let externalId: string | null = null;
  for (const [key, value] of Object.entries(body)) {
    if (key.toLowerCase() === ENTERPRISE_SCHEMA.toLowerCase()) {
      if (value !== null) attributes[ENTERPRISE_SCHEMA] = complex(value, SUB_NAMES[ENTERPRISE_SCHEMA], 'enterprise extension');
      continue;
    }
    const name = CORE_NAMES.get(key.toLowerCase());
    if (!name) throw invalidValue(`${key} is not an attribute Vigil knows`);
    if (value === null || name === 'schemas' || name === 'id' || name === 'meta') continue;
    if (name === 'userName') userName = text(value, 'userName', 254).trim();
    else if (name === 'displayName') displayName = text(value, 'displayName', 200);
    else if (name === 'active') active = bool(value, 'active');
    else if (name === 'externalId') externalId = text(value, 'externalId');
    else if (name === 'name') attributes.name = complex(value, SUB_NAMES.name, 'name');
    else if (name === 'emails') {
      if (!Array.isArray(value) || value.length > 20) throw invalidValue('emails must be a list of at most 20');
      attributes.emails = value.map((e, i) => complex(e, SUB_NAMES.emails, `emails[${i}]`));
    }
  }
  if (!userName) throw invalidValue('userName is required');
  const name = attributes.name as { formatted?: string; givenName?: string; familyName?: string } | undefined;
  if (!displayName && name) displayName = name.formatted ?? [name.givenName, name.familyName].filter(Boolean).join(' ');
  return { userName, displayName, active, externalId, attributes };
}

/** A weak ETag of the resource's content: it changes whenever what a client reads changes. */
export const versionOf = (resource: Record<string, unknown>) => `W/"${createHash('sha256').update(JSON.stringify(resource)).digest('base64url').slice(0, 22)}"`;

/** The account as a SCIM User, with meta (location under `base`, the Users endpoint). */
export function userResource(account: Account, record: ScimRecord | undefined, base: string): Record<string, unknown> {
  const attributes = record?.attributes ?? {};
  const enterprise = attributes[ENTERPRISE_SCHEMA];
  const content: Record<string, unknown> = {
    schemas: enterprise ? [USER_SCHEMA, ENTERPRISE_SCHEMA] : [USER_SCHEMA],
    id: account.id,
    ...(record?.externalId ? { externalId: record.externalId } : {}),
    userName: account.email,
    ...(attributes.name ? { name: attributes.name } : {}),
    ...(account.displayName ? { displayName: account.displayName } : {}),
    emails: attributes.emails ?? [{ value: account.email, type: 'work', primary: true }],
    active: !account.disabled,
    ...(enterprise ? { [ENTERPRISE_SCHEMA]: enterprise } : {}),
  };
  const lastModified = record && record.updatedAt > account.createdAt ? record.updatedAt : account.createdAt;
  return {
    ...content,
    meta: { resourceType: 'User', created: account.createdAt.toISOString(), lastModified: lastModified.toISOString(), location: `${base}/${account.id}`, version: versionOf(content) },
  };
}
