/**
 * Group membership as roles (VIGIL_SCIM_GROUP_ROLES): the roles the mapping names are the
 * mapping's; an account has those of them its groups give, and keeps every other role as it was.
 * A change goes through `changeRoles` (CAEP token-claims-change) and is audited.
 */
import { changeRoles, type AccountStore } from '../identity/index.ts';
import type { AuditEntry } from '../audit/index.ts';
import type { SecurityEventSink } from '../ssf/index.ts';
import type { ScimGroups } from './group-store.ts';
import type { ScimCaller } from './service.ts';

export interface GroupRoleDeps {
  accounts: AccountStore;
  groups: ScimGroups;
  securityEvents: SecurityEventSink;
  audit: (entry: AuditEntry) => Promise<void>;
  /** Group display name → roles. */
  mapping: Record<string, string[]>;
}

export class GroupRoles {
  readonly #deps: GroupRoleDeps;
  /** Lower-cased group name → roles. */
  readonly #byName: Map<string, string[]>;
  readonly #managed: Set<string>;

  constructor(deps: GroupRoleDeps) {
    this.#deps = deps;
    this.#byName = new Map(Object.entries(deps.mapping).map(([name, roles]) => [name.toLowerCase(), roles]));
    this.#managed = new Set(Object.values(deps.mapping).flat());
  }

  /** Brings each account's mapped roles in line with its groups now. */
  async sync(by: ScimCaller, accountIds: Iterable<string>): Promise<void> {
    if (this.#managed.size === 0) return;
    for (const id of new Set(accountIds)) {
      const account = await this.#deps.accounts.findById(id);
      if (!account) continue;
      const given = (await this.#deps.groups.namesOf(id)).flatMap((name) => this.#byName.get(name.toLowerCase()) ?? []);
      const roles = [...new Set([...account.roles.filter((r) => !this.#managed.has(r)), ...given])].sort();
      if (roles.join(' ') === [...account.roles].sort().join(' ')) continue;
      const done = await changeRoles({ accounts: this.#deps.accounts, securityEvents: this.#deps.securityEvents }, id, roles, 'admin', 'group membership (SCIM)');
      if (done?.changed) {
        await this.#deps.audit({ actor: by.clientId, action: 'account.roles', subject: id, ip: by.ip, outcome: 'success', details: { via: 'scim.group', previous: done.previous, roles } });
      }
    }
  }
}
