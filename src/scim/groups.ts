/**
 * Groups as SCIM resources (RFC 7643 §4.2): displayName, externalId and members (Users by id);
 * a body a client sent read as what Vigil stores; PATCH on displayName, externalId and members
 * (`members[value eq "…"]`, Entra ID's remove with a value list).
 */
import { compileFilter } from './filter.ts';
import { invalidValue, ScimError } from './errors.ts';
import type { GroupRecord } from './group-store.ts';
import { versionOf } from './users.ts';
import { patchOperations } from './patch.ts';

export const GROUP_SCHEMA = 'urn:ietf:params:scim:schemas:core:2.0:Group';

export interface GroupInput {
  displayName: string;
  externalId: string | null;
  /** Account ids. */
  members: string[];
}

type Json = Record<string, unknown>;

/** The group as a resource; member references under `usersBase`, the group under `groupsBase`. */
export function groupResource(group: GroupRecord, groupsBase: string, usersBase: string): Json {
  const content: Json = {
    schemas: [GROUP_SCHEMA],
    id: group.id,
    ...(group.externalId ? { externalId: group.externalId } : {}),
    displayName: group.displayName,
    members: group.members.map((m) => ({ value: m.accountId, display: m.email, $ref: `${usersBase}/${m.accountId}`, type: 'User' })),
  };
  return {
    ...content,
    meta: { resourceType: 'Group', created: group.createdAt.toISOString(), lastModified: group.updatedAt.toISOString(), location: `${groupsBase}/${group.id}`, version: versionOf(content) },
  };
}

function memberIds(value: unknown): string[] {
  const list = Array.isArray(value) ? value : [value];
  if (list.length > 1000) throw invalidValue('at most 1000 members at once');
  return list.map((m, i) => {
    const id = m && typeof m === 'object' ? (m as Json).value : undefined;
    if (typeof id !== 'string' || id.length === 0 || id.length > 64) throw invalidValue(`members[${i}].value must be a user's id`);
    return id;
  });
}

const key = (body: Json, name: string) => Object.keys(body).find((k) => k.toLowerCase() === name.toLowerCase());

/** A POST or PUT body as what Vigil stores. */
export function readGroup(body: Json): GroupInput {
  for (const k of Object.keys(body)) {
    if (!['schemas', 'id', 'meta', 'displayname', 'externalid', 'members'].includes(k.toLowerCase())) throw invalidValue(`${k} is not an attribute of a Group Vigil knows`);
  }
  const name = body[key(body, 'displayName') ?? ''];
  if (typeof name !== 'string' || !name.trim() || name.length > 200) throw invalidValue('displayName is required (at most 200 characters)');
  const external = body[key(body, 'externalId') ?? ''];
  if (external !== undefined && external !== null && (typeof external !== 'string' || external.length > 512)) throw invalidValue('externalId must be a string');
  const members = body[key(body, 'members') ?? ''];
  return { displayName: name.trim(), externalId: (external as string | undefined) ?? null, members: members === undefined || members === null ? [] : memberIds(members) };
}

/** The group after a PATCH body's operations. */
export function patchGroup(current: GroupInput, body: Json): GroupInput {
  const next: GroupInput = { ...current, members: [...current.members] };
  const apply = (op: string, path: string, value: unknown) => {
    const match = /^(\w+)(?:\[(.+)\])?$/.exec(path);
    const attr = match?.[1].toLowerCase();
    if (attr === 'displayname' && !match![2]) {
      if (op === 'remove' || typeof value !== 'string' || !value.trim() || value.length > 200) throw invalidValue('displayName must be a non-empty string');
      next.displayName = value.trim();
    } else if (attr === 'externalid' && !match![2]) {
      if (op !== 'remove' && (typeof value !== 'string' || value.length > 512)) throw invalidValue('externalId must be a string');
      next.externalId = op === 'remove' ? null : value as string;
    } else if (attr === 'members') {
      if (match![2] !== undefined) {
        if (op !== 'remove') throw new ScimError(400, 'only remove takes a filter on members', 'invalidPath');
        const test = compileFilter(match![2]);
        next.members = next.members.filter((id) => !test({ value: id }));
      } else if (op === 'remove') {
        const gone = value === undefined ? new Set(next.members) : new Set(memberIds(value));
        next.members = next.members.filter((id) => !gone.has(id));
      } else if (op === 'add') {
        next.members = [...new Set([...next.members, ...memberIds(value)])];
      } else {
        next.members = value === null ? [] : memberIds(value);
      }
    } else {
      throw new ScimError(400, `the path ${JSON.stringify(path.slice(0, 200))} names no attribute of a Group Vigil knows`, 'invalidPath');
    }
  };
  for (const { op, path, value } of patchOperations(body)) {
    if (path) apply(op, path, value);
    // Okta's replace of the whole group sends its id along.
    else for (const [k, v] of Object.entries(value as Json)) if (k.toLowerCase() !== 'id') apply(op, k, v);
  }
  return next;
}
