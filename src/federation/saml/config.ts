import { z } from 'zod';

/** The NameID formats an SP may ask for; `unspecified` leaves the choice to the IdP. */
export const NAME_ID_FORMATS = {
  unspecified: 'urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified',
  persistent: 'urn:oasis:names:tc:SAML:2.0:nameid-format:persistent',
  emailAddress: 'urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress',
  transient: 'urn:oasis:names:tc:SAML:2.0:nameid-format:transient',
} as const;

/** Attribute names tried in order when a provider names none: the usual ones of Entra ID, Okta, ADFS, Shibboleth (eduPerson). */
export const DEFAULT_ATTRIBUTES = {
  email: [
    'email',
    'mail',
    'http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress',
    'urn:oid:0.9.2342.19200300.100.1.3',
  ],
  name: [
    'displayName',
    'name',
    'http://schemas.microsoft.com/identity/claims/displayname',
    'urn:oid:2.16.840.1.113730.3.1.241',
  ],
  groups: [
    'groups',
    'memberOf',
    'http://schemas.microsoft.com/ws/2008/06/identity/claims/groups',
    'http://schemas.xmlsoap.org/claims/Group',
    'urn:oid:1.3.6.1.4.1.5923.1.5.1.1',
  ],
};

const attributeName = z.string().trim().min(1).max(512);
/** One attribute name or several tried in order. */
const attributeNames = z.union([attributeName.transform((name) => [name]), z.array(attributeName).min(1).max(20)]);

const httpsUrl = z.url({ protocol: /^https$/, error: 'must be an https:// URL' });

/**
 * The fields of a `"kind": "saml"` provider in the federation file. A plain shape: the federation
 * core merges it into its discriminated union of kinds and applies `refineSamlProvider`.
 */
export const samlFields = {
  /** The IdP's metadata XML on disk (read at the first sign-in and again every METADATA_TTL). */
  idp_metadata_file: z.string().min(1).optional(),
  /** The IdP's metadata over https, fetched through the core's SSRF-guarded fetch. */
  idp_metadata_url: httpsUrl.optional(),
  /** Vigil's entity id towards this IdP; default `<ISSUER>/federation/<id>/metadata`. */
  sp_entity_id: z.string().trim().min(1).max(1024).optional(),
  /** Which SAML attributes carry what; each an attribute name or a list tried in order. */
  attributes: z.strictObject({
    email: attributeNames.default(DEFAULT_ATTRIBUTES.email),
    name: attributeNames.default(DEFAULT_ATTRIBUTES.name),
    groups: attributeNames.default(DEFAULT_ATTRIBUTES.groups),
    /** An attribute whose value is the person's stable id; then used instead of the NameID (and a transient NameID is fine). */
    subject: attributeName.optional(),
  }).default({ email: DEFAULT_ATTRIBUTES.email, name: DEFAULT_ATTRIBUTES.name, groups: DEFAULT_ATTRIBUTES.groups }),
  /** Demand the signature on the whole Response; off (default): on the Assertion. */
  want_authn_response_signed: z.boolean().default(false),
  /** Tolerated clock difference with the IdP for NotBefore / NotOnOrAfter. */
  clock_skew_seconds: z.int().min(0).max(600).default(60),
  /** The NameID format asked for in the AuthnRequest: a short name (persistent, emailAddress, …) or a format URN. */
  name_id_format: z.union([
    z.enum(Object.keys(NAME_ID_FORMATS) as [keyof typeof NAME_ID_FORMATS, ...(keyof typeof NAME_ID_FORMATS)[]]).transform((name) => NAME_ID_FORMATS[name]),
    z.string().regex(/^urn:oasis:names:tc:SAML:[12]\.[01]:nameid-format:[A-Za-z]+$/, 'must be unspecified, persistent, emailAddress, transient or a NameID format URN'),
  ]).default(NAME_ID_FORMATS.unspecified),
};

const samlFieldsObject = z.object(samlFields);
export type SamlFields = z.output<typeof samlFieldsObject>;

/** What the SAML source needs of a provider: its id, the SAML fields, and the core's e-mail trust. */
export type SamlProviderConfig = SamlFields & {
  id: string;
  kind: 'saml';
  /** The provider vouches that the e-mail addresses it sends are verified. */
  trust_email_verified?: boolean;
};

/** The rules across fields: exactly one source of IdP metadata. */
export function refineSamlProvider(provider: Pick<SamlFields, 'idp_metadata_file' | 'idp_metadata_url'>, ctx: z.RefinementCtx): void {
  const given = [provider.idp_metadata_file, provider.idp_metadata_url].filter((v) => v !== undefined).length;
  if (given !== 1) {
    ctx.addIssue({
      code: 'custom',
      path: ['idp_metadata_file'],
      message: given === 0 ? 'a SAML provider needs idp_metadata_file or idp_metadata_url' : 'give idp_metadata_file or idp_metadata_url, not both',
    });
  }
}

/** A whole SAML provider entry on its own (tests, `vigil federation test`); the core's union uses `samlFields`. */
export const samlProviderSchema = z.object({
  id: z.string().regex(/^[a-z0-9][a-z0-9_-]{0,62}$/, 'must be lower-case letters, digits, - and _'),
  kind: z.literal('saml'),
  trust_email_verified: z.boolean().default(false),
  ...samlFields,
}).superRefine(refineSamlProvider);
