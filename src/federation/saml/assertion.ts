import { ASSERTION_NS, childElements, DSIG_NS, PROTOCOL_NS } from './xml.ts';

const BEARER = 'urn:oasis:names:tc:SAML:2.0:cm:bearer';

/** The parts of an assertion Vigil checks beyond what node-saml does, read from its verified XML. */
export interface AssertionFacts {
  id?: string;
  issuer?: string;
  nameId?: string;
  nameIdFormat?: string;
  /** Recipient of each bearer SubjectConfirmationData. */
  recipients: string[];
  /** InResponseTo of each bearer SubjectConfirmationData ('' where absent). */
  inResponseTo: string[];
  /** The latest NotOnOrAfter of the bearer confirmations and the Conditions (ms), for the replay cache. */
  notOnOrAfter?: number;
  /** The earliest NotBefore of the confirmations and the Conditions (ms). */
  notBefore?: number;
  authnContextClassRef?: string;
  sessionIndex?: string;
}

const text = (el: Element | undefined) => el?.textContent?.trim() || undefined;
const time = (value: string | null | undefined) => (value ? Date.parse(value) : NaN);

/** Reads the facts of a saml:Assertion element. */
export function assertionFacts(assertion: Element): AssertionFacts {
  const subject = childElements(assertion, ASSERTION_NS, 'Subject')[0];
  const nameId = subject && childElements(subject, ASSERTION_NS, 'NameID')[0];
  const confirmations = subject
    ? childElements(subject, ASSERTION_NS, 'SubjectConfirmation')
      .filter((c) => c.getAttribute('Method') === BEARER)
      .flatMap((c) => childElements(c, ASSERTION_NS, 'SubjectConfirmationData'))
    : [];
  const conditions = childElements(assertion, ASSERTION_NS, 'Conditions');
  const windows = [...confirmations, ...conditions];
  const ends = windows.map((w) => time(w.getAttribute('NotOnOrAfter'))).filter(Number.isFinite);
  const starts = windows.map((w) => time(w.getAttribute('NotBefore'))).filter(Number.isFinite);
  const statement = childElements(assertion, ASSERTION_NS, 'AuthnStatement')[0];
  const context = statement && childElements(statement, ASSERTION_NS, 'AuthnContext')[0];
  return {
    id: assertion.getAttribute('ID') || undefined,
    issuer: text(childElements(assertion, ASSERTION_NS, 'Issuer')[0]),
    nameId: text(nameId),
    nameIdFormat: nameId?.getAttribute('Format') || undefined,
    recipients: confirmations.map((c) => c.getAttribute('Recipient') ?? ''),
    inResponseTo: confirmations.map((c) => c.getAttribute('InResponseTo') ?? ''),
    notOnOrAfter: ends.length ? Math.max(...ends) : undefined,
    notBefore: starts.length ? Math.min(...starts) : undefined,
    authnContextClassRef: text(context && childElements(context, ASSERTION_NS, 'AuthnContextClassRef')[0]),
    sessionIndex: statement?.getAttribute('SessionIndex') || undefined,
  };
}

/** The Response element and its (only) Assertion, from a decoded SAMLResponse; undefined parts when absent. */
export function responseParts(doc: Document): { response?: Element; assertion?: Element } {
  const root = doc.documentElement;
  if (root.namespaceURI !== PROTOCOL_NS || root.localName !== 'Response') return {};
  return { response: root, assertion: childElements(root, ASSERTION_NS, 'Assertion')[0] };
}

export function hasSignature(element: Element | undefined): boolean {
  return !!element && childElements(element, DSIG_NS, 'Signature').length > 0;
}
