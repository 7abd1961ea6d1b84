/**
 * The Users operations behind the SCIM routes, and their effects: a user made inactive or deleted
 * is disabled and everything it holds ends through `Revocations.account` (every instance, CAEP
 * session-revoked), with a RISC account-disabled to the streams following the person; a name or address change is a CAEP token-claims-change; every change is
 * audited with the provisioning client as the actor.
 */
import { AccountError, changeProfile, disableAccount, type Account, type AccountStore } from '../identity/index.ts';
import type { Revocations } from '../sessions/index.ts';
import type { AuditEntry } from '../audit/index.ts';
import type { SecurityEventSink } from '../ssf/index.ts';
import { invalidValue, notFound, ScimError } from './errors.ts';
import { compileFilter } from './filter.ts';
import type { ScimRecords } from './store.ts';
import { userResource, type UserInput } from './users.ts';

export interface ScimDeps {
  accounts: AccountStore;
  records: ScimRecords;
  revocations: Revocations;
  securityEvents: SecurityEventSink;
  audit: (entry: AuditEntry) => Promise<void>;
  /** Mails an enrolment link to an enabled account without any sign-in method; whether one was sent (throws when mail fails). */
  offerEnrolment: (account: Account) => Promise<boolean>;
}

/** Who asks: the provisioning client and its address. */
export interface ScimCaller { clientId: string; ip: string }

type Resource = Record<string, unknown>;

const DEPROVISIONED = 'deprovisioned through SCIM';

const taken = (err: unknown) => {
  if (err instanceof AccountError) return err.kind === 'taken' ? new ScimError(409, 'a user with this userName already exists', 'uniqueness') : invalidValue(err.message);
  return err;
};

/** 412 unless `ifMatch` (absent, `*`, or a list of ETags) names the resource's version. */
export function checkVersion(resource: Resource, ifMatch: string | undefined, what: string): void {
  if (ifMatch === undefined || ifMatch.trim() === '*') return;
  const version = (resource.meta as { version: string }).version.replace(/^W\//, '');
  const wanted = ifMatch.split(',').map((v) => v.trim().replace(/^W\//, ''));
  if (!wanted.includes(version)) throw new ScimError(412, `the ${what} changed since that version was read`);
}

/**
 * A provisioning client may not move an administrator's sign-in address (a password reset would
 * then reach whoever it chose), disable or delete them: administrators are managed in Vigil.
 */
function guardAdministrator(account: Account): void {
  if (account.roles.includes('admin')) {
    throw new ScimError(403, 'this account has the admin role: its userName and active are managed in Vigil, not through provisioning');
  }
}

export class ScimUsers {
  readonly #deps: ScimDeps;
  readonly #base: string;

  /** `base`: the Users endpoint's URL (meta.location). */
  constructor(deps: ScimDeps, base: string) {
    this.#deps = deps;
    this.#base = base;
  }

  async get(id: string): Promise<Resource> {
    return (await this.#current(id)).resource;
  }

  /** Every user the filter matches, in creation order. */
  async list(filter: string | undefined): Promise<Resource[]> {
    const test = filter === undefined ? () => true : compileFilter(filter);
    const [accounts, records] = await Promise.all([this.#deps.accounts.list(), this.#deps.records.all()]);
    return accounts.filter((a) => !records.get(a.id)?.deleted).map((a) => userResource(a, records.get(a.id), this.#base)).filter(test);
  }

  async create(by: ScimCaller, input: UserInput): Promise<Resource> {
    let account = await this.#deps.accounts.create({ email: input.userName, displayName: input.displayName }).catch((err) => { throw taken(err); });
    if (input.active === false) account = await this.#deps.accounts.setDisabled(account.email, true) ?? account;
    const record = await this.#deps.records.save(account.id, input.externalId, input.attributes);
    await this.#audit(by, 'scim.user.create', account.id, { active: input.active !== false, ...(input.externalId ? { externalId: input.externalId } : {}) });
    if (!account.disabled) await this.#offerEnrolment(by, account);
    return userResource(account, record, this.#base);
  }

  /** PUT, and a PATCH's result: the user becomes `input`; 412 when `ifMatch` is not its version. */
  async replace(by: ScimCaller, id: string, input: UserInput, ifMatch: string | undefined): Promise<Resource> {
    const { account } = await this.#current(id, ifMatch);
    const active = input.active ?? !account.disabled;
    const moves = input.userName.toLowerCase() !== account.email.toLowerCase();
    if (moves || active === account.disabled) guardAdministrator(account);
    let now = account;
    if (moves || input.displayName !== account.displayName) {
      const change = { ...(moves ? { email: input.userName } : {}), displayName: input.displayName };
      const done = await changeProfile({ accounts: this.#deps.accounts, securityEvents: this.#deps.securityEvents }, id, change, 'admin', 'provisioning')
        .catch((err) => { throw taken(err); });
      if (!done) throw notFound('user');
      now = done.account;
    }
    if (active === account.disabled) now = await this.#setActive(by, now, active, 'scim.user.update');
    const record = await this.#deps.records.save(id, input.externalId, input.attributes);
    await this.#audit(by, 'scim.user.update', id, { active });
    return userResource(now, record, this.#base);
  }

  /** The resource as PATCH starts from it (its version checked). */
  async forPatch(id: string, ifMatch: string | undefined): Promise<Resource> {
    return (await this.#current(id, ifMatch)).resource;
  }

  /** DELETE: the account is disabled (everything it holds ends) and no longer a SCIM user. */
  async remove(by: ScimCaller, id: string, ifMatch: string | undefined): Promise<void> {
    const { account, record } = await this.#current(id, ifMatch);
    guardAdministrator(account);
    if (!account.disabled) await this.#setActive(by, account, false, 'scim.user.delete');
    await this.#deps.records.save(id, record?.externalId ?? null, record?.attributes ?? {}, true);
    await this.#audit(by, 'scim.user.delete', id, {});
  }

  async #current(id: string, ifMatch?: string) {
    const account = /^[\w-]{1,64}$/.test(id) ? await this.#deps.accounts.findById(id) : undefined;
    const record = account && await this.#deps.records.get(id);
    if (!account || record?.deleted) throw notFound('user');
    const resource = userResource(account, record, this.#base);
    checkVersion(resource, ifMatch, 'user');
    return { account, record, resource };
  }

  async #setActive(by: ScimCaller, account: Account, active: boolean, because: string): Promise<Account> {
    if (active) {
      const updated = await this.#deps.accounts.setDisabled(account.email, false);
      if (!updated) throw notFound('user');
      await this.#audit(by, 'account.enable', account.id, { via: because });
      await this.#offerEnrolment(by, updated);
      return updated;
    }
    // A deprovisioned person keeps nothing: sessions, grants and tokens end on every instance.
    const done = await disableAccount(this.#deps, account.email, { initiator: 'admin', actor: by.clientId, reason: DEPROVISIONED, ip: by.ip });
    if (!done) throw notFound('user');
    await this.#audit(by, 'account.disable', account.id, { via: because, sessions: done.sessions, grants: done.grants });
    return done.account;
  }

  /**
   * A person provisioned (or brought back) without any way to sign in gets an enrolment link. Mail
   * that cannot be sent does not undo the provisioning (a retried create would meet its own
   * account): it is audited as a failure, and an invitation can be sent by hand.
   */
  async #offerEnrolment(by: ScimCaller, account: Account): Promise<void> {
    try {
      if (await this.#deps.offerEnrolment(account)) await this.#audit(by, 'account.enrolment.mailed', account.id, { email: account.email });
    } catch (err) {
      await this.#deps.audit({ actor: by.clientId, action: 'account.enrolment.mailed', subject: account.id, ip: by.ip, outcome: 'failure', details: { email: account.email, error: err instanceof Error ? err.message : String(err) } });
    }
  }

  #audit(by: ScimCaller, action: string, subject: string, details: Record<string, unknown>): Promise<void> {
    return this.#deps.audit({ actor: by.clientId, action, subject, ip: by.ip, outcome: 'success', details });
  }
}

