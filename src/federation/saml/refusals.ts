import { nodeSamlIfLoaded } from './library.ts';
import { FederationError } from '../source.ts';
import { assertionFacts, hasSignature, responseParts } from './assertion.ts';

/** Every way a SAML response is refused, with the words the person's page and the log show. */
export const refusals = {
  malformed: 'The identity provider\'s SAML response could not be read.',
  unsigned: 'The identity provider\'s SAML response is not signed.',
  invalid_signature: 'The signature on the identity provider\'s SAML response is not valid.',
  wrong_audience: 'The identity provider\'s SAML response is meant for another service.',
  wrong_recipient: 'The identity provider\'s SAML response was sent to another address.',
  wrong_issuer: 'The SAML response comes from another identity provider.',
  expired: 'The identity provider\'s SAML response has expired. Please sign in again.',
  not_yet_valid: 'The identity provider\'s SAML response is not valid yet (the clocks disagree).',
  wrong_in_response_to: 'The SAML response does not answer a sign-in started here. Please sign in again.',
  replayed: 'This SAML response was already used. Please sign in again.',
  transient_name_id: 'The identity provider sent only a temporary name for you; it must send a persistent one.',
  denied: 'The identity provider did not sign you in.',
  wrong_relay_state: 'The SAML response does not belong to this sign-in. Please sign in again.',
  encrypted_assertion: 'The identity provider encrypts its assertions; Vigil needs them unencrypted (turn assertion encryption off for Vigil).',
} as const;

export type RefusalCode = keyof typeof refusals;

export function refuse(code: RefusalCode): FederationError {
  return new FederationError(code, refusals[code]);
}

/**
 * What a node-saml validation failure means for the person. node-saml reports in English
 * sentences; where one sentence covers several causes (a subject confirmation outside its time
 * window), the response itself tells which. Reading the unverified response here only picks the
 * words of a refusal, never lets anything through.
 */
export function refusalFor(err: unknown, doc: Document | undefined, signedPart: 'response' | 'assertion', skewMs: number): FederationError {
  const library = nodeSamlIfLoaded();
  if (library && err instanceof library.SamlStatusError) return refuse('denied');
  const message = err instanceof Error ? err.message : '';
  if (!doc) return refuse('malformed');
  const { response, assertion } = responseParts(doc);
  if (/InResponseTo/i.test(message)) return refuse('wrong_in_response_to');
  if (/decryption key/i.test(message)) return refuse('encrypted_assertion');
  if (/signature/i.test(message)) {
    const required = signedPart === 'response' ? response : assertion;
    return refuse(hasSignature(required) ? 'invalid_signature' : 'unsigned');
  }
  if (/audience/i.test(message)) return refuse('wrong_audience');
  if (/not yet valid/i.test(message)) return refuse('not_yet_valid');
  if (/expired/i.test(message)) return refuse('expired');
  if (/subject confirmation/i.test(message) && assertion) {
    const { notBefore, notOnOrAfter } = assertionFacts(assertion);
    const now = Date.now();
    if (notBefore !== undefined && now + skewMs < notBefore) return refuse('not_yet_valid');
    if (notOnOrAfter !== undefined && now - skewMs >= notOnOrAfter) return refuse('expired');
  }
  return refuse('malformed');
}
