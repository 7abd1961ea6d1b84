/** Transmitter configuration metadata (SSF 1.0 §7.1), served at /.well-known/ssf-configuration. */
import { POLL_METHOD, PUSH_METHOD } from './events.ts';

export const ssfPaths = {
  configuration: '/ssf/stream',
  status: '/ssf/status',
  addSubject: '/ssf/subjects/add',
  removeSubject: '/ssf/subjects/remove',
  verification: '/ssf/verify',
  poll: '/ssf/poll',
} as const;

export function transmitterMetadata(issuer: string): Record<string, unknown> {
  return {
    spec_version: '1_0',
    issuer,
    jwks_uri: `${issuer}/jwks`,
    delivery_methods_supported: [PUSH_METHOD, POLL_METHOD],
    configuration_endpoint: `${issuer}${ssfPaths.configuration}`,
    status_endpoint: `${issuer}${ssfPaths.status}`,
    add_subject_endpoint: `${issuer}${ssfPaths.addSubject}`,
    remove_subject_endpoint: `${issuer}${ssfPaths.removeSubject}`,
    verification_endpoint: `${issuer}${ssfPaths.verification}`,
    authorization_schemes: [{ spec_urn: 'urn:ietf:rfc:6749' }],
    // A stream gets events only about the people it names (and who authorized its client).
    default_subjects: 'NONE',
  };
}
