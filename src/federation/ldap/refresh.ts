/**
 * The directory's word at refresh: a session signed in through an ldap provider is refreshed only
 * while the person's entry exists and is not disabled. The entry is looked up at most once per
 * `recheck_seconds` per (provider, subject) on each instance — the last check times live in this
 * process's memory (a restarted instance counts from the sign-in again; N instances check up to N
 * times per period, which a directory does not notice). A directory that cannot be reached refuses
 * the refresh unless the person was last found active within `unreachable_grace_seconds`.
 */
import { errors } from 'oidc-provider';
import { FederationError, type ExternalIdentity, type PasswordSource } from '../source.ts';
import type { LdapSettings } from './config.ts';

export type LdapLink = Pick<ExternalIdentity, 'provider' | 'subject' | 'distinguishedName'>;

/** `active`: looked up now and found; `not_due`: checked recently; `grace`: unreachable, within the grace period. */
export type LdapRefreshVerdict = 'active' | 'not_due' | 'grace';

/** A refresh refused by the directory's state; `inactive` ends the session, `unreachable` may pass later. */
export class LdapRefreshRefused extends errors.InvalidGrant {
  readonly reason: 'inactive' | 'unreachable';

  constructor(reason: 'inactive' | 'unreachable') {
    super(reason === 'inactive' ? 'directory account disabled or removed' : 'directory unreachable');
    this.reason = reason;
    this.error_description = reason === 'inactive'
      ? 'the directory account is disabled or no longer exists; the person must sign in again'
      : 'the directory cannot be reached to re-check the account; try again later';
  }
}

/** Per instance: when each linked identity was last found active, and the lookups in flight. */
export class LdapRechecks {
  readonly #checkedAt = new Map<string, number>();
  readonly #inFlight = new Map<string, Promise<boolean>>();
  readonly #maxEntries: number;

  constructor(maxEntries = 100_000) {
    this.#maxEntries = maxEntries;
  }

  lastActive(key: string): number | undefined {
    return this.#checkedAt.get(key);
  }

  foundActive(key: string, time: number): void {
    this.#checkedAt.delete(key);
    // Oldest first out: Map keeps insertion order, and a re-check re-inserts.
    if (this.#checkedAt.size >= this.#maxEntries) this.#checkedAt.delete(this.#checkedAt.keys().next().value!);
    this.#checkedAt.set(key, time);
  }

  forget(key: string): void {
    this.#checkedAt.delete(key);
  }

  /** Concurrent refreshes of one person share one lookup. */
  lookup(key: string, look: () => Promise<boolean>): Promise<boolean> {
    let pending = this.#inFlight.get(key);
    if (!pending) {
      pending = look().finally(() => this.#inFlight.delete(key));
      this.#inFlight.set(key, pending);
    }
    return pending;
  }
}

export interface LdapRefreshInput {
  source: PasswordSource;
  settings: Pick<LdapSettings, 'recheck_seconds' | 'unreachable_grace_seconds'>;
  link: LdapLink;
  /** When the session's sign-in bound against the directory (epoch ms): the first "found active". */
  signedInAt: number;
  rechecks: LdapRechecks;
  now?: number;
}

/** Returns when the refresh may go on; throws LdapRefreshRefused (an invalid_grant) when not. */
export async function ldapRefreshCheck(input: LdapRefreshInput): Promise<LdapRefreshVerdict> {
  const { source, settings, link, rechecks } = input;
  const now = input.now ?? Date.now();
  const key = `${link.provider}\u0000${link.subject}`;
  const lastActive = Math.max(rechecks.lastActive(key) ?? 0, input.signedInAt);
  if (now - lastActive < settings.recheck_seconds * 1000) return 'not_due';
  let active: boolean;
  try {
    active = await rechecks.lookup(key, () => source.stillActive(link));
  } catch (err) {
    if (!(err instanceof FederationError)) throw err;
    if (settings.unreachable_grace_seconds > 0 && now - lastActive <= settings.unreachable_grace_seconds * 1000) return 'grace';
    throw new LdapRefreshRefused('unreachable');
  }
  if (!active) {
    rechecks.forget(key);
    throw new LdapRefreshRefused('inactive');
  }
  rechecks.foundActive(key, now);
  return 'active';
}
