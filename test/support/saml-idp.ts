/**
 * A SAML 2.0 identity provider for tests: a self-signed certificate made by openssl at start,
 * its metadata served over HTTP on 127.0.0.1, and Responses to a given AuthnRequest signed with
 * node-saml's signer (xml-crypto underneath) — real XML signatures, with knobs to get each
 * thing an SP must refuse.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inflateRawSync } from 'node:zlib';
import { DOMParser } from '@xmldom/xmldom';
import { signSamlPost } from '@node-saml/node-saml/lib/saml-post-signing.js';

export interface KeyPair {
  privateKey: string;
  cert: string;
}

/** A fresh RSA key and a self-signed certificate for it (openssl req -x509). */
export function selfSignedCertificate(commonName = 'test-idp'): KeyPair {
  const dir = mkdtempSync(join(tmpdir(), 'saml-idp-'));
  try {
    execFileSync('openssl', [
      'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-sha256', '-days', '30', '-subj', `/CN=${commonName}`,
      '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'),
    ], { stdio: 'ignore' });
    return { privateKey: readFileSync(join(dir, 'key.pem'), 'utf8'), cert: readFileSync(join(dir, 'cert.pem'), 'utf8') };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Who signs in at the IdP and what it says about them. */
export interface IdpUser {
  nameId: string;
  nameIdFormat?: string;
  attributes?: Record<string, string | string[]>;
  authnContextClassRef?: string;
}

/** Ways to make a Response wrong (or different); none: a good signed Response. */
export interface ResponseKnobs {
  user?: Partial<IdpUser>;
  /** No signature at all. */
  unsigned?: boolean;
  /** Sign the Response (default: only the Assertion). */
  signResponse?: boolean;
  /** Sign the Response but not the Assertion. */
  signOnlyResponse?: boolean;
  /** A failed status (e.g. urn:oasis:names:tc:SAML:2.0:status:Responder) and no assertion. */
  failedStatus?: string;
  /** An EncryptedAssertion in place of the assertion (its content is no real encryption). */
  encrypted?: boolean;
  /** Change an attribute value after signing. */
  tamper?: boolean;
  /** Sign with a key that is not in the metadata. */
  signWith?: KeyPair;
  audience?: string;
  recipient?: string;
  destination?: string;
  /** The request answered; null: an unsolicited Response (no InResponseTo). */
  inResponseTo?: string | null;
  /** Leave InResponseTo out of the assertion's SubjectConfirmationData (the Response still has it). */
  omitSubjectInResponseTo?: boolean;
  issuer?: string;
  /** Seconds from now of the assertion's NotOnOrAfter (default 300). */
  validForSeconds?: number;
  /** Seconds from now of the assertion's NotBefore (default -5). */
  notBeforeSeconds?: number;
  assertionId?: string;
  sessionIndex?: string;
}

export interface PostedForm {
  SAMLResponse: string;
  RelayState: string;
  /** Where the IdP posts it: the AuthnRequest's AssertionConsumerServiceURL. */
  acsUrl: string;
  requestId: string;
}

const XMLNS = 'xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion"';
const RESPONSE_XPATH = '/*[local-name(.)="Response" and namespace-uri(.)="urn:oasis:names:tc:SAML:2.0:protocol"]';
const ASSERTION_XPATH = `${RESPONSE_XPATH}/*[local-name(.)="Assertion" and namespace-uri(.)="urn:oasis:names:tc:SAML:2.0:assertion"]`;

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
const iso = (offsetSeconds: number) => new Date(Date.now() + offsetSeconds * 1000).toISOString();
const newId = () => `_${randomBytes(16).toString('hex')}`;

export class SamlTestIdp {
  readonly keys: KeyPair;
  readonly entityId: string;
  /** The person the browser-facing /sso signs in (and the default of respond()). */
  user: IdpUser;
  readonly #server: Server;
  #base = '';

  private constructor(keys: KeyPair, entityId: string, user: IdpUser) {
    this.keys = keys;
    this.entityId = entityId;
    this.user = user;
    this.#server = createServer((req, res) => {
      const url = new URL(req.url ?? '/', this.baseUrl);
      if (url.pathname === '/metadata') {
        res.writeHead(200, { 'content-type': 'application/samlmetadata+xml' }).end(this.metadataXml());
      } else if (url.pathname === '/sso') {
        // What a real IdP does after its own sign-in page: an auto-submitting form to the ACS.
        const form = this.respond(url.toString());
        res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(
          `<!doctype html><html><body onload="document.forms[0].submit()"><form method="post" action="${esc(form.acsUrl)}">`
          + `<input type="hidden" name="SAMLResponse" value="${esc(form.SAMLResponse)}"><input type="hidden" name="RelayState" value="${esc(form.RelayState)}">`
          + '<button type="submit">Continue</button></form></body></html>',
        );
      } else if (url.pathname === '/favicon.ico') {
        res.writeHead(204).end();
      } else {
        res.writeHead(404).end();
      }
    });
  }

  static async start(options: { entityId?: string; user?: IdpUser; keys?: KeyPair } = {}): Promise<SamlTestIdp> {
    const idp = new SamlTestIdp(
      options.keys ?? selfSignedCertificate(),
      options.entityId ?? 'https://idp.example.test/saml',
      options.user ?? { nameId: 'alice-0001', attributes: { email: 'alice@example.com' } },
    );
    await new Promise<void>((resolve) => idp.#server.listen(0, '127.0.0.1', resolve));
    const address = idp.#server.address() as { port: number };
    idp.#base = `http://127.0.0.1:${address.port}`;
    return idp;
  }

  get baseUrl(): string {
    return this.#base;
  }

  get metadataUrl(): string {
    return `${this.#base}/metadata`;
  }

  get ssoUrl(): string {
    return `${this.#base}/sso`;
  }

  metadataXml(extraCerts: string[] = []): string {
    const keyDescriptor = (pem: string) => `<md:KeyDescriptor use="signing"><ds:KeyInfo xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:X509Data><ds:X509Certificate>${pemBody(pem)}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>`;
    return `<?xml version="1.0"?>
<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="${esc(this.entityId)}">
  <md:IDPSSODescriptor WantAuthnRequestsSigned="false" protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">
    ${[this.keys.cert, ...extraCerts].map(keyDescriptor).join('\n    ')}
    <md:KeyDescriptor use="encryption"><ds:KeyInfo xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:X509Data><ds:X509Certificate>not-a-signing-certificate</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>
    <md:NameIDFormat>urn:oasis:names:tc:SAML:2.0:nameid-format:persistent</md:NameIDFormat>
    <md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" Location="${esc(this.ssoUrl)}/post"/>
    <md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="${esc(this.ssoUrl)}"/>
  </md:IDPSSODescriptor>
</md:EntityDescriptor>`;
  }

  /** The form the IdP would POST to the ACS in answer to the AuthnRequest in `redirectUrl` (the URL `begin` sends the browser to). */
  respond(redirectUrl: string, knobs: ResponseKnobs = {}): PostedForm {
    const request = readAuthnRequest(redirectUrl);
    const user = { ...this.user, ...knobs.user };
    const inResponseTo = knobs.inResponseTo === undefined ? request.id : knobs.inResponseTo;
    const irt = inResponseTo === null ? '' : ` InResponseTo="${esc(inResponseTo)}"`;
    const issuer = esc(knobs.issuer ?? this.entityId);
    const notOnOrAfter = iso(knobs.validForSeconds ?? 300);
    const attributes = Object.entries(user.attributes ?? {}).map(([name, value]) =>
      `<saml:Attribute Name="${esc(name)}">${(Array.isArray(value) ? value : [value]).map((v) => `<saml:AttributeValue>${esc(v)}</saml:AttributeValue>`).join('')}</saml:Attribute>`).join('');
    let xml = `<samlp:Response ${XMLNS} ID="${newId()}" Version="2.0" IssueInstant="${iso(0)}" Destination="${esc(knobs.destination ?? request.acsUrl)}"${irt}>`
      + `<saml:Issuer>${issuer}</saml:Issuer>`
      + '<samlp:Status><samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:Success"/></samlp:Status>'
      + `<saml:Assertion ${XMLNS} ID="${esc(knobs.assertionId ?? newId())}" Version="2.0" IssueInstant="${iso(0)}">`
      + `<saml:Issuer>${issuer}</saml:Issuer>`
      + `<saml:Subject><saml:NameID Format="${esc(user.nameIdFormat ?? 'urn:oasis:names:tc:SAML:2.0:nameid-format:persistent')}">${esc(user.nameId!)}</saml:NameID>`
      + `<saml:SubjectConfirmation Method="urn:oasis:names:tc:SAML:2.0:cm:bearer"><saml:SubjectConfirmationData${knobs.omitSubjectInResponseTo ? '' : irt} NotOnOrAfter="${notOnOrAfter}" Recipient="${esc(knobs.recipient ?? request.acsUrl)}"/></saml:SubjectConfirmation></saml:Subject>`
      + `<saml:Conditions NotBefore="${iso(knobs.notBeforeSeconds ?? -5)}" NotOnOrAfter="${notOnOrAfter}"><saml:AudienceRestriction><saml:Audience>${esc(knobs.audience ?? request.issuer)}</saml:Audience></saml:AudienceRestriction></saml:Conditions>`
      + `<saml:AuthnStatement AuthnInstant="${iso(-1)}" SessionIndex="${esc(knobs.sessionIndex ?? newId())}"><saml:AuthnContext><saml:AuthnContextClassRef>${esc(user.authnContextClassRef ?? 'urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport')}</saml:AuthnContextClassRef></saml:AuthnContext></saml:AuthnStatement>`
      + (attributes ? `<saml:AttributeStatement>${attributes}</saml:AttributeStatement>` : '')
      + '</saml:Assertion></samlp:Response>';
    if (!knobs.unsigned) {
      const signing = { privateKey: (knobs.signWith ?? this.keys).privateKey, publicCert: (knobs.signWith ?? this.keys).cert, signatureAlgorithm: 'sha256' as const, digestAlgorithm: 'sha256' };
      if (!knobs.signOnlyResponse) xml = signSamlPost(xml, ASSERTION_XPATH, signing);
      if (knobs.signResponse || knobs.signOnlyResponse) xml = signSamlPost(xml, RESPONSE_XPATH, signing);
    }
    if (knobs.failedStatus) {
      xml = xml.replace(/<saml:Assertion [\s\S]*<\/saml:Assertion>/, '')
        .replace('urn:oasis:names:tc:SAML:2.0:status:Success', esc(knobs.failedStatus));
    }
    if (knobs.encrypted) {
      xml = xml.replace(/<saml:Assertion [\s\S]*<\/saml:Assertion>/, '<saml:EncryptedAssertion><xenc:EncryptedData xmlns:xenc="http://www.w3.org/2001/04/xmlenc#"/></saml:EncryptedAssertion>');
    }
    if (knobs.tamper) {
      const tampered = xml.replace(/(<saml:AttributeValue>)[^<]*@/, '$1mallory@');
      if (tampered === xml) throw new Error('tamper: no e-mail attribute to change');
      xml = tampered;
    }
    return { SAMLResponse: Buffer.from(xml).toString('base64'), RelayState: request.relayState, acsUrl: request.acsUrl, requestId: request.id };
  }

  /** Writes the metadata to a file and returns its path (removed with the directory by the caller). */
  writeMetadata(dir: string): string {
    const path = join(dir, 'idp-metadata.xml');
    writeFileSync(path, this.metadataXml());
    return path;
  }

  async close(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.#server.close(() => resolve()));
    // A browser's keep-alive connections would hold the close open.
    this.#server.closeAllConnections();
    await closed;
  }
}

/** The AuthnRequest carried by an HTTP-Redirect binding URL. */
export function readAuthnRequest(redirectUrl: string): { id: string; acsUrl: string; issuer: string; relayState: string; nameIdFormat?: string; xml: string } {
  const url = new URL(redirectUrl);
  const xml = inflateRawSync(Buffer.from(url.searchParams.get('SAMLRequest') ?? '', 'base64')).toString('utf8');
  const doc = new DOMParser().parseFromString(xml, 'text/xml');
  const request = doc.documentElement!;
  const issuer = doc.getElementsByTagNameNS('urn:oasis:names:tc:SAML:2.0:assertion', 'Issuer')[0]?.textContent ?? '';
  const policy = doc.getElementsByTagNameNS('urn:oasis:names:tc:SAML:2.0:protocol', 'NameIDPolicy')[0];
  const relayState = url.searchParams.get('RelayState') ?? '';
  // SAML bindings §3.4.3: an IdP may refuse a longer RelayState, as some do.
  if (Buffer.byteLength(relayState) > 80) throw new Error(`RelayState of ${Buffer.byteLength(relayState)} bytes: at most 80 are allowed`);
  return {
    id: request.getAttribute('ID') ?? '',
    acsUrl: request.getAttribute('AssertionConsumerServiceURL') ?? '',
    issuer,
    relayState,
    nameIdFormat: policy?.getAttribute('Format') ?? undefined,
    xml,
  };
}

const pemBody = (pem: string) => pem.replace(/-----[^-]+-----/g, '').replace(/\s+/g, '');
