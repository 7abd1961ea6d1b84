/** The providers of the federation file in force, with their sources: home realm discovery and buttons. */
import type { FederationFile, ProviderConfig } from './config.ts';
import { SOURCE_KINDS, type SourceDeps } from './kinds.ts';
import type { IdentitySource, PasswordSource, RedirectSource } from './source.ts';

export interface Provider {
  config: ProviderConfig;
  source: IdentitySource;
}

export interface ProviderButton {
  id: string;
  displayName: string;
}

export class FederationRegistry {
  readonly #providers: Map<string, Provider>;
  readonly #byDomain: Map<string, Provider>;

  constructor(file: FederationFile, deps: Omit<SourceDeps, 'secret'>) {
    this.#providers = new Map(file.providers.map((config) => {
      const secrets = file.secrets.get(config.id);
      const source = SOURCE_KINDS[config.kind].create(config, { ...deps, secret: (field) => secrets?.get(field) });
      return [config.id, { config, source }];
    }));
    this.#byDomain = new Map([...this.#providers.values()].flatMap((p) => p.config.domains.map((d) => [d, p] as const)));
  }

  /** Whether any provider is configured (the sign-in page asks for the email first then). */
  get configured(): boolean {
    return this.#providers.size > 0;
  }

  list(): Provider[] {
    return [...this.#providers.values()];
  }

  provider(id: string): Provider | undefined {
    return this.#providers.get(id);
  }

  /** The provider an email's domain is routed to (home realm discovery); undefined: a local account. */
  route(email: string): Provider | undefined {
    const at = email.lastIndexOf('@');
    return at < 0 ? undefined : this.#byDomain.get(email.slice(at + 1).toLowerCase());
  }

  /** The buttons of the sign-in page: redirect providers whose `button` is on (the kind's default otherwise). */
  buttons(): ProviderButton[] {
    return this.list()
      .filter((p) => p.source.kind !== 'ldap' && (p.config.button ?? SOURCE_KINDS[p.config.kind].button))
      .map((p) => ({ id: p.config.id, displayName: p.config.display_name }));
  }

  redirectSource(id: string): RedirectSource | undefined {
    const source = this.#providers.get(id)?.source;
    return source && source.kind !== 'ldap' ? source : undefined;
  }

  passwordSource(id: string): PasswordSource | undefined {
    const source = this.#providers.get(id)?.source;
    return source?.kind === 'ldap' ? source : undefined;
  }

  /** The provider whose upstream issuer (or SAML entity id) this is: for its Shared Signals events. */
  byIssuer(issuer: string): Provider | undefined {
    return this.list().find((p) => p.source.kind !== 'ldap' && p.source.issuer === issuer);
  }
}
