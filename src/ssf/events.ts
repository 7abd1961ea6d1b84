/**
 * The events Vigil sends and receives (CAEP 1.0, RISC 1.0, SSF 1.0) and the subject identifiers
 * (RFC 9493) it reads and writes. Pure: no I/O.
 */
import { z } from 'zod';

const CAEP = 'https://schemas.openid.net/secevent/caep/event-type/';
const RISC = 'https://schemas.openid.net/secevent/risc/event-type/';
const SSF = 'https://schemas.openid.net/secevent/ssf/event-type/';

export const EVENT = {
  sessionRevoked: `${CAEP}session-revoked`,
  credentialChange: `${CAEP}credential-change`,
  assuranceLevelChange: `${CAEP}assurance-level-change`,
  deviceComplianceChange: `${CAEP}device-compliance-change`,
  tokenClaimsChange: `${CAEP}token-claims-change`,
  riskLevelChange: `${CAEP}risk-level-change`,
  verification: `${SSF}verification`,
  streamUpdated: `${SSF}stream-updated`,
  credentialCompromise: `${RISC}credential-compromise`,
  accountDisabled: `${RISC}account-disabled`,
  /** Vigil's own (no standard type fits): a break-glass account was used. */
  breakGlassUsed: 'https://vigil.dev/secevent/break-glass-used',
} as const;

/** What a stream may ask for (verification is always delivered when asked for with the verification endpoint). */
export const EVENTS_SUPPORTED: readonly string[] = [
  EVENT.sessionRevoked, EVENT.credentialChange, EVENT.assuranceLevelChange, EVENT.deviceComplianceChange,
  EVENT.tokenClaimsChange, EVENT.riskLevelChange, EVENT.accountDisabled, EVENT.breakGlassUsed, EVENT.verification,
];

/** What Vigil applies when a trusted transmitter sends it. */
export const EVENTS_RECEIVED: readonly string[] = [
  EVENT.sessionRevoked, EVENT.deviceComplianceChange, EVENT.riskLevelChange, EVENT.credentialCompromise, EVENT.accountDisabled,
];

export const PUSH_METHOD = 'urn:ietf:rfc:8935';
export const POLL_METHOD = 'urn:ietf:rfc:8936';

export type Initiator = 'admin' | 'policy' | 'user' | 'system';

/** RFC 9493 subject identifiers Vigil understands (complex ones nest these). */
const simpleSubject = z.discriminatedUnion('format', [
  z.object({ format: z.literal('email'), email: z.string().min(3).max(320) }),
  z.object({ format: z.literal('iss_sub'), iss: z.string().min(1).max(2048), sub: z.string().min(1).max(512) }),
  z.object({ format: z.literal('opaque'), id: z.string().min(1).max(512) }),
]);
export type SimpleSubject = z.infer<typeof simpleSubject>;

export const subjectSchema = z.union([
  simpleSubject,
  z.object({
    format: z.literal('complex'),
    user: simpleSubject.optional(),
    device: simpleSubject.optional(),
    session: simpleSubject.optional(),
  }),
]);
export type Subject = z.infer<typeof subjectSchema>;

/** The person as every SET names them: Vigil's issuer and the `sub` of their ID tokens (the account id). */
export const userSubject = (issuer: string, accountId: string) => ({ format: 'iss_sub' as const, iss: issuer, sub: accountId });

/** An event about one account, as the outbox stores it: the SET's `events` member and its subject. */
export interface SecurityEvent {
  type: string;
  accountId: string;
  /** The event's own claims (event_timestamp is added if missing). */
  claims: Record<string, unknown>;
  /** A transaction id shared by the SETs of one change (RFC 8417 `txn`). */
  txn?: string;
  /** Only to this client's streams (by default, every stream following the person). */
  clientId?: string;
  /** The SET's `sub_id` when not the person alone (a complex subject naming their session too). */
  subject?: Subject;
}

/** One session of the person, as the app knows it (`sid` of its ID tokens): CAEP's complex subject. */
export const userSessionSubject = (issuer: string, accountId: string, sid: string): Subject => ({
  format: 'complex', user: userSubject(issuer, accountId), session: { format: 'opaque', id: sid },
});

/** The common CAEP claims: when, who started it, and why (for administrators). */
export function caepClaims(at: number, initiator: Initiator | undefined, reason: string | undefined, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    event_timestamp: Math.floor(at / 1000),
    ...(initiator ? { initiating_entity: initiator } : {}),
    ...(reason ? { reason_admin: { en: reason.slice(0, 500) } } : {}),
    ...extra,
  };
}

/** Where code that changes something about an account sends the event (the outbox). */
export interface SecurityEventSink {
  emit(events: SecurityEvent[]): Promise<number>;
}

/** CAEP 1.0 §3.3 credential_type values for Vigil's factors. */
export type CaepCredentialType = 'password' | 'app' | 'fido2-platform' | 'fido2-roaming';

/**
 * A passkey's kind from the transports its authenticator reported: built into the device
 * (`internal`) is a platform authenticator; a security key or a phone (usb, nfc, ble, hybrid) is roaming.
 */
export function passkeyCredentialType(transports: readonly string[]): CaepCredentialType {
  if (transports.includes('internal')) return 'fido2-platform';
  return transports.some((t) => ['usb', 'nfc', 'ble', 'hybrid'].includes(t)) ? 'fido2-roaming' : 'fido2-platform';
}

export function credentialChange(accountId: string, credentialType: CaepCredentialType, changeType: 'create' | 'revoke' | 'update' | 'delete', initiator: Initiator, at = Date.now()): SecurityEvent {
  return {
    type: EVENT.credentialChange, accountId,
    claims: caepClaims(at, initiator, undefined, { credential_type: credentialType, change_type: changeType }),
  };
}

/** RISC 1.0 §2.3: the account was disabled (no RISC `reason` fits deprovisioning, so none is given). */
export function accountDisabled(accountId: string, initiator: Initiator, reason: string, at = Date.now()): SecurityEvent {
  return { type: EVENT.accountDisabled, accountId, claims: caepClaims(at, initiator, reason) };
}

/** Vigil's acr values are its own: the namespace says so (CAEP allows other namespaces). */
export const ACR_NAMESPACE = 'urn:vigil:acr';

export function assuranceLevelChange(accountId: string, previous: string, current: string, direction: 'increase' | 'decrease', at = Date.now()): SecurityEvent {
  return {
    type: EVENT.assuranceLevelChange, accountId,
    claims: caepClaims(at, 'user', undefined, { namespace: ACR_NAMESPACE, previous_level: previous, current_level: current, change_direction: direction }),
  };
}

export function deviceComplianceChange(accountId: string, deviceId: string, previous: boolean, current: boolean, reasons: string[], at = Date.now()): SecurityEvent {
  const status = (c: boolean) => (c ? 'compliant' : 'not-compliant');
  return {
    type: EVENT.deviceComplianceChange, accountId,
    claims: caepClaims(at, 'policy', reasons.length ? reasons.join('; ') : undefined, {
      previous_status: status(previous), current_status: status(current), device: { format: 'opaque', id: deviceId },
    }),
  };
}

/** CAEP risk-level-change about the person (principal USER); levels as CAEP writes them (LOW, MEDIUM, HIGH). */
export function riskLevelChange(accountId: string, previous: string, current: string, reason: string | undefined, at = Date.now()): SecurityEvent {
  return {
    type: EVENT.riskLevelChange, accountId,
    claims: caepClaims(at, 'policy', undefined, {
      principal: 'USER', current_level: current.toUpperCase(), previous_level: previous.toUpperCase(),
      ...(reason ? { risk_reason: reason.slice(0, 500) } : {}),
    }),
  };
}

/** CAEP token-claims-change: the claims whose values changed, with their new values. */
export function tokenClaimsChange(accountId: string, claims: Record<string, unknown>, initiator: Initiator, reason: string | undefined, at = Date.now()): SecurityEvent {
  return { type: EVENT.tokenClaimsChange, accountId, claims: caepClaims(at, initiator, reason, { claims }) };
}

/** A break-glass account signed in: every use is told, with how and from where (Vigil's own event type). */
export function breakGlassUsed(accountId: string, use: { acr?: string; client?: string; ip?: string }, at = Date.now()): SecurityEvent {
  return {
    type: EVENT.breakGlassUsed, accountId,
    claims: caepClaims(at, 'user', 'break-glass account used', {
      ...(use.acr ? { acr: use.acr } : {}), ...(use.client ? { client_id: use.client } : {}), ...(use.ip ? { ip_address: use.ip } : {}),
    }),
  };
}
