/**
 * Vigil as a SAML 2.0 service provider towards one IdP: AuthnRequests over the HTTP-Redirect
 * binding, Responses over HTTP-POST. node-saml checks the XML signature (against the certificates
 * of the IdP's metadata), the time windows, the audience and InResponseTo; this source adds what it
 * leaves out (issuer, recipient and destination, transient NameIDs) and the replay check, and reads
 * everything it returns from the verified assertion only.
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { CacheProvider, Profile, SamlConfig } from '@node-saml/node-saml';
import { nodeSaml } from './library.ts';
import { z } from 'zod';
import type { Queryable } from '../../store/index.ts';
import { FederationError, type ExternalIdentity, type RedirectSource } from '../source.ts';
import { assertionFacts, responseParts } from './assertion.ts';
import { NAME_ID_FORMATS, type SamlProviderConfig } from './config.ts';
import { IdpMetadataLoader, type OutgoingFetch } from './idp-metadata.ts';
import { certificateExpiries, type IdpMetadata } from './metadata.ts';
import { refusalFor, refuse } from './refusals.ts';
import { AssertionIds } from './replay.ts';
import { parseXml } from './xml.ts';

export interface SamlSourceDeps {
  /** Where accepted assertion ids are remembered (migration 025); without it (the CLI's check) `complete` cannot run. */
  sql?: Queryable;
  /** Vigil's issuer URL, for the default SP entity id. */
  issuer: string;
  /** The core's SSRF-guarded fetch, for idp_metadata_url. */
  fetch: OutgoingFetch;
  /** How long a metadata fetch may take (default 10 s). */
  timeoutMs?: number;
}

// A sign-in's AuthnRequest is answered within this or not at all (the core's kept state expires sooner).
const REQUEST_TTL_MS = 30 * 60 * 1000;
// Larger than any honest Response (Entra ID's with hundreds of groups stay well under 200 KiB).
const MAX_RESPONSE_CHARS = 1024 * 1024;
// As the OIDC source: longer values are not names, more groups are not roles anyone maps.
const MAX_VALUE_CHARS = 1024;
const MAX_GROUPS = 500;

const keepSchema = z.object({ requestId: z.string().min(1), issuedAt: z.string().min(1), relay: z.string().optional() });
const formSchema = z.object({ SAMLResponse: z.string().min(1).max(MAX_RESPONSE_CHARS).regex(/^[A-Za-z0-9+/=\s]+$/), RelayState: z.string().optional() });

/** Vigil's entity id towards this IdP. */
export function spEntityId(provider: Pick<SamlProviderConfig, 'id' | 'sp_entity_id'>, issuer: string): string {
  return provider.sp_entity_id ?? `${issuer}/federation/${provider.id}/metadata`;
}

export function createSamlSource(provider: SamlProviderConfig, deps: SamlSourceDeps): RedirectSource {
  if (!provider.idp_metadata_file === !provider.idp_metadata_url) {
    throw new Error(`federation provider ${provider.id}: give exactly one of idp_metadata_file and idp_metadata_url`);
  }
  const metadata = new IdpMetadataLoader(provider, deps.fetch, deps.timeoutMs ?? 10_000);
  const assertionIds = deps.sql && new AssertionIds(deps.sql);
  const entityId = spEntityId(provider, deps.issuer);
  const skewMs = provider.clock_skew_seconds * 1000;

  const samlFor = async (idp: IdpMetadata, callbackUrl: string, extra: Partial<SamlConfig>) => new (await nodeSaml()).SAML({
    issuer: entityId,
    callbackUrl,
    entryPoint: idp.ssoUrl,
    idpCert: idp.signingCerts,
    idpIssuer: idp.entityId,
    audience: entityId,
    identifierFormat: provider.name_id_format,
    // node-saml would otherwise ask for PasswordProtectedTransport exactly, refusing stronger sign-ins.
    disableRequestedAuthnContext: true,
    wantAuthnResponseSigned: provider.want_authn_response_signed,
    wantAssertionsSigned: !provider.want_authn_response_signed,
    acceptedClockSkewMs: skewMs,
    ...extra,
  });

  return {
    kind: 'saml',
    id: provider.id,
    /** The IdP's entity id, once its metadata was read (for Shared Signals events naming it as issuer). */
    get issuer() {
      return metadata.current?.entityId;
    },

    async begin({ callbackUrl, relay }) {
      const idp = await metadata.load();
      const requestId = `_${randomBytes(20).toString('hex')}`;
      const { ValidateInResponseTo } = await nodeSaml();
      const saml = await samlFor(idp, callbackUrl, { generateUniqueId: () => requestId, validateInResponseTo: ValidateInResponseTo.never });
      const redirectTo = await saml.getAuthorizeUrlAsync(relay, undefined, {});
      return { redirectTo, keep: { requestId, issuedAt: new Date().toISOString(), relay } };
    },

    async complete({ callbackUrl, params, keep }) {
      if (!assertionIds) throw new Error('the SAML source needs the database to complete a sign-in (replay check)');
      const form = formSchema.safeParse(params);
      if (!form.success) throw refuse('malformed');
      const kept = keepSchema.safeParse(keep);
      if (!kept.success) throw refuse('wrong_in_response_to');
      if (kept.data.relay !== undefined && !sameText(kept.data.relay, form.data.RelayState ?? '')) throw refuse('wrong_relay_state');

      const idp = await metadata.load();
      const xml = Buffer.from(form.data.SAMLResponse, 'base64').toString('utf8');
      const doc = parseXml(xml);
      const { ValidateInResponseTo } = await nodeSaml();
      const saml = await samlFor(idp, callbackUrl, {
        // Only the request this browser's sign-in sent: unsolicited (IdP-initiated) responses are refused.
        validateInResponseTo: ValidateInResponseTo.always,
        cacheProvider: onlyRequest(kept.data.requestId, kept.data.issuedAt),
        requestIdExpirationPeriodMs: REQUEST_TTL_MS,
      });
      let profile: Profile | null;
      try {
        ({ profile } = await saml.validatePostResponseAsync({ SAMLResponse: form.data.SAMLResponse }));
      } catch (err) {
        const refusal = refusalFor(err, doc, provider.want_authn_response_signed ? 'response' : 'assertion', skewMs);
        if (refusal.code === 'invalid_signature') metadata.reloadSoon();
        throw refusal;
      }
      if (!profile?.getAssertionXml) throw refuse('denied');

      // Everything below is read from the assertion node-saml verified, not from the posted document.
      const verified = parseXml(profile.getAssertionXml())?.documentElement;
      if (!verified) throw refuse('malformed');
      const facts = assertionFacts(verified);
      if (facts.issuer !== idp.entityId) throw refuse('wrong_issuer');
      const response = doc && responseParts(doc).response;
      const destination = response?.getAttribute('Destination');
      if (destination && destination !== callbackUrl) throw refuse('wrong_recipient');
      if (facts.recipients.length === 0 || facts.recipients.some((r) => r !== callbackUrl)) throw refuse('wrong_recipient');
      // The signed answer must name this sign-in's request too, not only the unsigned Response around it.
      if (facts.inResponseTo.some((id) => id !== kept.data.requestId)) throw refuse('wrong_in_response_to');
      if (!facts.id || facts.notOnOrAfter === undefined) throw refuse('malformed');

      const attributes = (profile.attributes ?? {}) as Record<string, unknown>;
      const subject = subjectOf(provider, facts, attributes);
      if (!(await assertionIds.firstUse(provider.id, facts.id, new Date(facts.notOnOrAfter + skewMs)))) throw refuse('replayed');

      const given = firstValue(attributes, provider.attributes.email);
      const email = given && z.email().safeParse(given).success ? given : undefined;
      return {
        provider: provider.id,
        subject,
        email,
        emailVerified: provider.trust_email_verified === true && email !== undefined,
        name: firstValue(attributes, provider.attributes.name),
        groups: allValues(attributes, provider.attributes.groups).slice(0, MAX_GROUPS),
        acr: facts.authnContextClassRef,
        upstreamSession: facts.sessionIndex,
      } satisfies ExternalIdentity;
    },

    async check() {
      const idp = await metadata.fresh();
      const validTo = certificateExpiries(idp.signingCerts);
      const expiries = validTo.map((d) => d.toISOString().slice(0, 10));
      const expired = validTo.filter((d) => d.getTime() < Date.now()).length;
      return [
        `IdP entity id ${idp.entityId}`,
        `SSO URL (HTTP-Redirect) ${idp.ssoUrl}`,
        `${idp.signingCerts.length} signing certificate(s), valid until ${expiries.join(', ')}${expired ? ` (${expired} expired)` : ''}`,
        `SP entity id ${entityId}`,
      ].join('; ');
    },
  };
}

/** node-saml's InResponseTo store, holding only the id of the request this sign-in sent. */
function onlyRequest(requestId: string, issuedAt: string): CacheProvider {
  return {
    saveAsync: async () => null,
    getAsync: async (key) => (key === requestId ? issuedAt : null),
    removeAsync: async () => null,
  };
}

function subjectOf(provider: SamlProviderConfig, facts: { nameId?: string; nameIdFormat?: string }, attributes: Record<string, unknown>): string {
  if (provider.attributes.subject) {
    const stable = firstValue(attributes, [provider.attributes.subject]);
    if (!stable) throw refuse('malformed');
    return stable;
  }
  if (facts.nameIdFormat === NAME_ID_FORMATS.transient) throw refuse('transient_name_id');
  if (!facts.nameId || facts.nameId.length > MAX_VALUE_CHARS) throw refuse('malformed');
  return facts.nameId;
}

/** Attribute values that are text of a sensible length, trimmed. */
const strings = (value: unknown): string[] =>
  (Array.isArray(value) ? value : [value])
    .filter((v): v is string => typeof v === 'string' && v.trim() !== '' && v.length <= MAX_VALUE_CHARS)
    .map((v) => v.trim());

function firstValue(attributes: Record<string, unknown>, names: string[]): string | undefined {
  for (const name of names) {
    const [value] = strings(attributes[name]);
    if (value) return value;
  }
  return undefined;
}

function allValues(attributes: Record<string, unknown>, names: string[]): string[] {
  return [...new Set(names.flatMap((name) => strings(attributes[name])))];
}

function sameText(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}
