/** The Groups operations behind the SCIM routes: stored, audited, and their members' roles synced. */
import type { AuditEntry } from '../audit/index.ts';
import { invalidValue, notFound, ScimError } from './errors.ts';
import { compileFilter } from './filter.ts';
import type { GroupRoles } from './group-roles.ts';
import { GroupNameTaken, type GroupRecord, type ScimGroups } from './group-store.ts';
import { groupResource, type GroupInput } from './groups.ts';
import { checkVersion, type ScimCaller } from './service.ts';

export interface GroupServiceDeps {
  groups: ScimGroups;
  roles: GroupRoles;
  audit: (entry: AuditEntry) => Promise<void>;
}

type Resource = Record<string, unknown>;

export class ScimGroupService {
  readonly #deps: GroupServiceDeps;
  readonly #base: string;
  readonly #usersBase: string;

  constructor(deps: GroupServiceDeps, base: string, usersBase: string) {
    this.#deps = deps;
    this.#base = base;
    this.#usersBase = usersBase;
  }

  async get(id: string): Promise<Resource> {
    return (await this.#current(id)).resource;
  }

  async list(filter: string | undefined): Promise<Resource[]> {
    const test = filter === undefined ? () => true : compileFilter(filter);
    return (await this.#deps.groups.list()).map((g) => this.#resource(g)).filter(test);
  }

  async create(by: ScimCaller, input: GroupInput): Promise<Resource> {
    await this.#checkMembers(input.members);
    const { id, changed } = await this.#deps.groups.save(undefined, input.displayName, input.externalId, input.members).catch(nameTaken);
    await this.#audit(by, 'scim.group.create', id, { displayName: input.displayName, members: input.members.length });
    await this.#deps.roles.sync(by, changed);
    return this.get(id);
  }

  /** The group as a PATCH starts from it (its version checked), and its resource's version. */
  async forPatch(id: string, ifMatch: string | undefined): Promise<{ input: GroupInput; version: string }> {
    const { group, resource } = await this.#current(id, ifMatch);
    return {
      input: { displayName: group.displayName, externalId: group.externalId, members: group.members.map((m) => m.accountId) },
      version: (resource.meta as { version: string }).version,
    };
  }

  async replace(by: ScimCaller, id: string, input: GroupInput, ifMatch: string | undefined): Promise<Resource> {
    const { group } = await this.#current(id, ifMatch);
    await this.#checkMembers(input.members);
    const { changed } = await this.#deps.groups.save(id, input.displayName, input.externalId, input.members).catch(nameTaken);
    await this.#audit(by, 'scim.group.update', id, { displayName: input.displayName, members: input.members.length });
    // A new name may map to other roles: every member is looked at again.
    const renamed = group.displayName.toLowerCase() !== input.displayName.toLowerCase();
    await this.#deps.roles.sync(by, renamed ? [...changed, ...input.members, ...group.members.map((m) => m.accountId)] : changed);
    return this.get(id);
  }

  async remove(by: ScimCaller, id: string, ifMatch: string | undefined): Promise<void> {
    await this.#current(id, ifMatch);
    const members = await this.#deps.groups.remove(id);
    await this.#audit(by, 'scim.group.delete', id, { members: members.length });
    await this.#deps.roles.sync(by, members);
  }

  #resource(group: GroupRecord): Resource {
    return groupResource(group, this.#base, this.#usersBase);
  }

  async #current(id: string, ifMatch?: string) {
    const group = /^[\w-]{1,64}$/.test(id) ? await this.#deps.groups.get(id) : undefined;
    if (!group) throw notFound('group');
    const resource = this.#resource(group);
    checkVersion(resource, ifMatch, 'group');
    return { group, resource };
  }

  async #checkMembers(ids: string[]): Promise<void> {
    const known = await this.#deps.groups.existingAccounts(ids);
    const unknown = ids.find((id) => !known.has(id));
    if (unknown !== undefined) throw invalidValue(`members: no user has the id ${JSON.stringify(unknown.slice(0, 64))}`);
  }

  #audit(by: ScimCaller, action: string, subject: string, details: Record<string, unknown>): Promise<void> {
    return this.#deps.audit({ actor: by.clientId, action, subject, ip: by.ip, outcome: 'success', details });
  }
}

function nameTaken(err: unknown): never {
  if (err instanceof GroupNameTaken) throw new ScimError(409, 'a group with this displayName already exists', 'uniqueness');
  throw err;
}
