/**
 * From an upstream identity to a Vigil account: an existing link, just-in-time provisioning, or
 * — when an account with the address exists — linking, which needs the person to prove that
 * account (never by email alone). And the assurance the upstream's sign-in earns.
 */
import { randomUUID } from 'node:crypto';
import { ACR, acrLevel, type AcrValue } from '../config/index.ts';
import { AccountError, changeRoles, type Account, type AccountStore } from '../identity/index.ts';
import type { AuditEntry } from '../audit/index.ts';
import type { ProviderConfig } from './config.ts';
import type { ExternalIdentity } from './source.ts';
import type { FederationStore } from './store.ts';

/** Why an upstream sign-in cannot become a Vigil sign-in. */
export type SignInRefusal = 'account_disabled' | 'provisioning_not_allowed' | 'email_unverified' | 'no_email';

export type SignInOutcome =
  | { kind: 'account'; account: Account; provisioned: boolean }
  /** Nobody has the address and the provider provisions: the account is made (`provision`) only once the sign-in is allowed. */
  | { kind: 'new'; accountId: string }
  /** An account with the address exists and is not linked: the person must prove it first. */
  | { kind: 'link'; account: Account }
  | { kind: 'refused'; reason: SignInRefusal; accountId?: string };

export interface FederatedSignInDeps {
  accounts: AccountStore;
  store: FederationStore;
  audit: (entry: AuditEntry) => Promise<unknown>;
  securityEvents: Parameters<typeof changeRoles>[0]['securityEvents'];
}

/** The roles an account provisioned by `provider` holds: its default roles and its groups' roles. */
export function rolesFor(provider: ProviderConfig, groups: readonly string[]): string[] {
  const roles = new Set(provider.provisioning.default_roles);
  for (const group of groups) for (const role of provider.group_roles[group] ?? []) roles.add(role);
  return [...roles].sort();
}

/** The Vigil acr the upstream's acr/amr earns: only where the provider is trusted for it; one factor otherwise. */
export function assurance(provider: ProviderConfig, identity: Pick<ExternalIdentity, 'acr' | 'amr'>): AcrValue {
  const trusted = provider.trusted_acr;
  if (!trusted) return ACR.oneFactor;
  const asserted = [identity.acr, ...(identity.amr ?? [])].filter((v): v is string => typeof v === 'string');
  let best: AcrValue = ACR.oneFactor;
  for (const value of asserted) {
    const earned = Object.hasOwn(trusted, value) ? trusted[value] : undefined;
    if (earned && acrLevel(earned) > acrLevel(best)) best = earned;
  }
  return best;
}

export class FederatedSignIn {
  readonly #deps: FederatedSignInDeps;

  constructor(deps: FederatedSignInDeps) {
    this.#deps = deps;
  }

  async resolve(provider: ProviderConfig, identity: ExternalIdentity): Promise<SignInOutcome> {
    const { accounts, store } = this.#deps;
    const link = await store.find(provider.id, identity.subject);
    const linked = link && await accounts.findById(link.accountId);
    if (link && linked) {
      if (linked.disabled) return { kind: 'refused', reason: 'account_disabled', accountId: linked.id };
      const account = link.provisioned ? await this.#syncRoles(provider, linked, identity.groups) : linked;
      await store.signedIn(provider.id, identity.subject, identity.email);
      return { kind: 'account', account, provisioned: false };
    }
    if (!identity.email) return { kind: 'refused', reason: 'no_email' };
    const existing = await accounts.findByEmail(identity.email);
    if (existing) return this.#linkOrRefuse(existing, identity);
    if (!provider.provisioning.allowed) return { kind: 'refused', reason: 'provisioning_not_allowed' };
    return { kind: 'new', accountId: randomUUID() };
  }

  /** Just in time: the account of a `new` outcome, made once its first sign-in has passed every check. */
  async provision(provider: ProviderConfig, identity: ExternalIdentity, accountId: string): Promise<SignInOutcome> {
    const { accounts, store } = this.#deps;
    if (!identity.email) return { kind: 'refused', reason: 'no_email' };
    let account: Account;
    try {
      account = await accounts.create({
        id: accountId, email: identity.email, displayName: identity.name ?? '', roles: rolesFor(provider, identity.groups), emailVerified: identity.emailVerified,
      });
    } catch (err) {
      // Created by someone else in the meantime: the same rule as for any existing account.
      const raced = err instanceof AccountError && err.kind === 'taken' ? await accounts.findByEmail(identity.email) : undefined;
      if (raced) return this.#linkOrRefuse(raced, identity);
      throw err;
    }
    await store.link({ provider: provider.id, subject: identity.subject, accountId: account.id, email: identity.email, provisioned: true });
    await store.signedIn(provider.id, identity.subject, identity.email);
    await this.#deps.audit({
      actor: `federation:${provider.id}`, action: 'account.provisioned', subject: account.id, outcome: 'success',
      details: { provider: provider.id, email: account.email, roles: account.roles },
    });
    return { kind: 'account', account, provisioned: true };
  }

  /** After the person proved the existing account: the link is written (and audited). */
  async link(provider: ProviderConfig, identity: ExternalIdentity, accountId: string, ip: string | undefined, proof: string): Promise<void> {
    const { store } = this.#deps;
    const added = await store.link({ provider: provider.id, subject: identity.subject, accountId, email: identity.email, provisioned: false });
    await store.signedIn(provider.id, identity.subject, identity.email);
    await this.#deps.audit({
      actor: accountId, action: 'federation.linked', subject: accountId, ip, outcome: added ? 'success' : 'info',
      details: { provider: provider.id, email: identity.email, proof, ...(added ? {} : { note: 'linked already' }) },
    });
  }

  #linkOrRefuse(existing: Account, identity: ExternalIdentity): SignInOutcome {
    if (!identity.emailVerified) return { kind: 'refused', reason: 'email_unverified', accountId: existing.id };
    if (existing.disabled) return { kind: 'refused', reason: 'account_disabled', accountId: existing.id };
    return { kind: 'link', account: existing };
  }

  async #syncRoles(provider: ProviderConfig, account: Account, groups: readonly string[]): Promise<Account> {
    const roles = rolesFor(provider, groups);
    if (roles.join(' ') === [...account.roles].sort().join(' ')) return account;
    const change = await changeRoles(this.#deps, account.id, roles, 'system', `groups at ${provider.id}`);
    if (change?.changed) {
      await this.#deps.audit({
        actor: `federation:${provider.id}`, action: 'account.roles_changed', subject: account.id, outcome: 'success',
        details: { provider: provider.id, previous: change.previous, roles: change.account.roles },
      });
    }
    return change?.account ?? account;
  }
}
