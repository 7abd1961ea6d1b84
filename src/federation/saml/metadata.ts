import { X509Certificate } from 'node:crypto';
import { childElements, DSIG_NS, METADATA_NS, parseXml } from './xml.ts';

export const REDIRECT_BINDING = 'urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect';

/** What Vigil needs of an IdP's metadata. */
export interface IdpMetadata {
  entityId: string;
  /** The SingleSignOnService location for the HTTP-Redirect binding. */
  ssoUrl: string;
  /** PEM certificates the IdP signs with (several while it rolls its key over). */
  signingCerts: string[];
}

export class MetadataError extends Error {}

/** Parses an EntityDescriptor (or the first IdP in an EntitiesDescriptor); throws MetadataError saying what is missing. */
export function parseIdpMetadata(xml: string): IdpMetadata {
  const doc = parseXml(xml);
  if (!doc) throw new MetadataError('the IdP metadata is not well-formed XML');
  const idp = Array.from(doc.getElementsByTagNameNS(METADATA_NS, 'IDPSSODescriptor'))[0];
  if (!idp) throw new MetadataError('the IdP metadata has no IDPSSODescriptor');
  const entity = idp.parentNode as Element | null;
  const entityId = entity?.getAttribute('entityID');
  if (!entityId) throw new MetadataError('the IdP metadata has no entityID');

  const sso = childElements(idp, METADATA_NS, 'SingleSignOnService').find((s) => s.getAttribute('Binding') === REDIRECT_BINDING);
  const ssoUrl = sso?.getAttribute('Location') ?? '';
  if (!URL.canParse(ssoUrl)) throw new MetadataError('the IdP metadata has no SingleSignOnService for the HTTP-Redirect binding');

  const signingCerts = childElements(idp, METADATA_NS, 'KeyDescriptor')
    .filter((k) => !k.getAttribute('use') || k.getAttribute('use') === 'signing')
    .flatMap((k) => Array.from(k.getElementsByTagNameNS(DSIG_NS, 'X509Certificate')))
    .map((c) => toPem(c.textContent ?? ''));
  if (signingCerts.length === 0) throw new MetadataError('the IdP metadata has no signing certificate');
  return { entityId, ssoUrl, signingCerts };
}

/** The expiry of each signing certificate, for `vigil federation test`. */
export function certificateExpiries(certs: string[]): Date[] {
  return certs.map((pem) => new Date(new X509Certificate(pem).validTo));
}

function toPem(base64: string): string {
  const body = base64.replace(/\s+/g, '');
  try {
    new X509Certificate(Buffer.from(body, 'base64'));
  } catch {
    throw new MetadataError('the IdP metadata has a signing certificate that cannot be read');
  }
  return `-----BEGIN CERTIFICATE-----\n${body.match(/.{1,64}/g)!.join('\n')}\n-----END CERTIFICATE-----\n`;
}
