import { DOMParser } from '@xmldom/xmldom';

export const METADATA_NS = 'urn:oasis:names:tc:SAML:2.0:metadata';
export const ASSERTION_NS = 'urn:oasis:names:tc:SAML:2.0:assertion';
export const PROTOCOL_NS = 'urn:oasis:names:tc:SAML:2.0:protocol';
export const DSIG_NS = 'http://www.w3.org/2000/09/xmldsig#';

/** Parses XML; undefined when it is not well-formed. */
export function parseXml(xml: string): Document | undefined {
  let broken = false;
  const onError = () => { broken = true; };
  const doc = new DOMParser({ errorHandler: { error: onError, fatalError: onError } }).parseFromString(xml, 'text/xml');
  return broken || !doc?.documentElement ? undefined : (doc as unknown as Document);
}

/** The direct children of `parent` named `ns`:`name` (never descendants: a wrapped copy elsewhere does not count). */
export function childElements(parent: Element, ns: string, name: string): Element[] {
  return Array.from(parent.childNodes).filter((n): n is Element => n.nodeType === 1 && (n as Element).namespaceURI === ns && (n as Element).localName === name);
}
