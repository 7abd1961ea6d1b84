/** The account a subject identifier (RFC 9493) names: one reading for received SETs and for stream management. */
import type { AccountStore } from '../identity/index.ts';

/** A subject as either side has parsed it: the stream requests' strict schema, or a received SET's loose one. */
export interface NamedSubject {
  format: string;
  email?: string;
  uri?: string;
  iss?: string;
  sub?: string;
  id?: string;
  user?: NamedSubject;
}

export interface SubjectLookup {
  accounts: Pick<AccountStore, 'findByEmail' | 'findById'>;
  /** Vigil's issuer: an `iss_sub` subject with it names an account by its id. */
  issuer: string;
}

/**
 * The id of the account a user subject names (a complex subject's `user`): by email (`email`, or an
 * `account` subject's acct: URI) or by Vigil's own `iss_sub`; undefined for a subject that names
 * nobody. An `opaque` subject names an account by its id only where `opaqueIsAccount` (stream
 * management); in a received SET it is Vigil's device id, and names no account.
 */
export async function subjectAccount(lookup: SubjectLookup, subject: NamedSubject | undefined, opaqueIsAccount: boolean): Promise<string | undefined> {
  const user = subject?.format === 'complex' ? subject.user : subject;
  if (!user) return undefined;
  const email = user.format === 'email' ? user.email
    : user.format === 'account' && user.uri?.startsWith('acct:') ? user.uri.slice(5) : undefined;
  if (email) return (await lookup.accounts.findByEmail(email))?.id;
  const id = user.format === 'iss_sub' ? (user.iss === lookup.issuer ? user.sub : undefined)
    : user.format === 'opaque' && opaqueIsAccount ? user.id : undefined;
  return id ? (await lookup.accounts.findById(id))?.id : undefined;
}
