/**
 * The one interface every upstream source of identity implements (OpenID Connect, SAML 2.0,
 * LDAP / Active Directory). A source only speaks its protocol and answers "who is this, according
 * to the upstream"; linking, just-in-time provisioning, assurance mapping, risk and sessions are
 * the federation core's and the interaction's, the same for every kind.
 */

/** Who the upstream says signed in, after every check the protocol demands has passed. */
export interface ExternalIdentity {
  /** The provider's id in the federation file. */
  provider: string;
  /** The upstream's stable identifier: OIDC `sub`, SAML persistent NameID, LDAP entryUUID / objectGUID. */
  subject: string;
  email?: string;
  /** The upstream asserts the address is verified (OIDC `email_verified`, or the provider is configured to vouch for it). */
  emailVerified: boolean;
  name?: string;
  /** Group names as the upstream gives them, before the provider's group → role mapping. */
  groups: string[];
  /** The upstream's authentication context (OIDC `acr`, SAML AuthnContextClassRef); mapped only for a trusted provider. */
  acr?: string;
  /** The upstream's methods (OIDC `amr`). */
  amr?: string[];
  /** The upstream's session: OIDC `sid`, SAML SessionIndex (for its logout and session events). */
  upstreamSession?: string;
  /** LDAP only: the entry's DN, kept to re-check the account at refresh. */
  distinguishedName?: string;
}

/** Why an upstream sign-in failed, in words safe for the person's page and for the log. */
export class FederationError extends Error {
  /** Machine-readable reason, e.g. `invalid_signature`, `wrong_audience`, `expired`, `replayed`, `wrong_nonce`, `unreachable`. */
  readonly code: string;
  /** The upstream could not be reached (as opposed to refusing): the page says the provider is unreachable. */
  readonly unreachable: boolean;

  constructor(code: string, message: string, unreachable = false) {
    super(message);
    this.name = 'FederationError';
    this.code = code;
    this.unreachable = unreachable;
  }
}

/** A source the browser is sent to (OpenID Connect, SAML): begin → redirect, callback → identity. */
export interface RedirectSource {
  readonly kind: 'oidc' | 'saml';
  readonly id: string;
  /** The upstream's issuer (OIDC) or entity id (SAML): the `iss` of its Shared Signals subjects. Optional (added by the federation core). */
  readonly issuer?: string;
  /**
   * Starts a sign-in. `callbackUrl` is where the upstream must send the browser back; `relay` is an
   * opaque value the callback must carry back unchanged (OIDC `state`, SAML `RelayState`).
   * `keep` is stored server-side by the caller (single use, expiring) and handed to `complete`.
   */
  begin(input: { callbackUrl: string; relay: string; loginHint?: string }): Promise<{ redirectTo: string; keep: Record<string, unknown> }>;
  /**
   * Validates what came back (query of the OIDC redirect, form of the SAML POST) against what was
   * kept; throws FederationError for anything wrong. Never returns an identity it did not verify.
   */
  complete(input: { callbackUrl: string; params: Record<string, string>; keep: Record<string, unknown> }): Promise<ExternalIdentity>;
  /** `vigil federation test`: fetches discovery / metadata; resolves with what it found, throws FederationError. */
  check(): Promise<string>;
}

/** A source that checks a password itself (LDAP / Active Directory bind). */
export interface PasswordSource {
  readonly kind: 'ldap';
  readonly id: string;
  /**
   * Checks the password by binding as the person. Undefined: no such person or a wrong password
   * (indistinguishable to the caller). A disabled directory account throws FederationError
   * `account_disabled`; a directory that cannot be reached throws with `unreachable` set.
   */
  authenticate(login: string, password: string): Promise<ExternalIdentity | undefined>;
  /** At refresh: whether the entry still exists and is not disabled in the directory. Throws (unreachable) when it cannot tell. */
  stillActive(identity: Pick<ExternalIdentity, 'subject' | 'distinguishedName'>): Promise<boolean>;
  check(): Promise<string>;
}

export type IdentitySource = RedirectSource | PasswordSource;
