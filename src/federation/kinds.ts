/**
 * The kinds of upstream source, each with its own fields in the federation file and its own
 * protocol module. A kind is one line here: `fields` (a zod shape), which of them are sealed
 * secrets, whether it shows a button by default, and how to make its source.
 */
import type { z } from 'zod';
import type { IdentitySource } from './source.ts';
import type { ProviderConfig } from './provider-config.ts';
import { oidcFields, OIDC_SECRETS } from './oidc/config.ts';
import { OidcSource } from './oidc/source.ts';
import { createSamlSource, refineSamlProvider, samlFields, type SamlProviderConfig } from './saml/index.ts';
import type { Queryable } from '../store/index.ts';
import { ldapFields, checkLdapFields, createLdapSource, type LdapProvider } from './ldap/index.ts';

/** What a source is given: the outgoing fetch (SSRF-safe), its opened secrets, Vigil's issuer. */
export interface SourceDeps {
  fetch: typeof fetch;
  /** The plaintext of a sealed field of this provider. */
  secret(field: string): string | undefined;
  /** Vigil's issuer (the base of callback URLs, the SAML entity id). */
  issuer: string;
  timeoutMs: number;
  /** The database (SAML's replay check); the CLI's `federation test` goes without. */
  sql?: Queryable;
}

export interface SourceKind {
  fields: z.ZodRawShape;
  /** Checks that need several of the kind's fields at once. */
  refine?: (provider: never, ctx: z.RefinementCtx) => void;
  /** Fields holding sealed secrets (plaintext refused at load, opened with the master key). */
  secrets: readonly string[];
  /** Whether the sign-in page shows a button for a provider of this kind unless `button` says otherwise. */
  button: boolean;
  create(config: ProviderConfig, deps: SourceDeps): IdentitySource;
}

export const SOURCE_KINDS: Record<string, SourceKind> = {
  oidc: { fields: oidcFields, secrets: OIDC_SECRETS, button: true, create: (config, deps) => new OidcSource(config, deps) },
  saml: { fields: samlFields, refine: refineSamlProvider, secrets: [], button: true, create: (config, deps) => createSamlSource(config as unknown as SamlProviderConfig, deps) },
  ldap: { fields: ldapFields, refine: checkLdapFields, secrets: ['bind_password'], button: false, create: (config, deps) => createLdapSource(config as unknown as LdapProvider, { bindPassword: deps.secret('bind_password') ?? '' }) },
};
