import type { InvitationView } from '../invitations/index.ts';
/**
 * What the admin API (`/admin/api`) and the admin console (`/admin`) share: who is calling, what
 * they may do, and the one service both call. Neither talks to the stores directly.
 */
import { ApiError } from '../http/api-error.ts';
import type { RevocationEvent } from '../sessions/index.ts';
import type { LogoutDelivery } from '../sessions/index.ts';
import type { EventDelivery } from '../ssf/index.ts';
import type { StoredAuditEntry } from '../audit/index.ts';
import type { ClientSettings } from '../oidc/index.ts';
import type { ActivityKind } from './activity.ts';

/** Read-only (`auditor`) or everything (`admin`). */
export type AdminRole = 'admin' | 'auditor';

/** An authenticated caller of the admin API or console. */
export type AdminPrincipal =
  | { kind: 'person'; accountId: string; email: string; role: AdminRole; acr: string; ip: string }
  | { kind: 'client'; clientId: string; role: AdminRole; ip: string };

/** A page of results; `next` is an opaque cursor for the following page (absent on the last). */
export interface Page<T> {
  items: T[];
  next?: string;
}

export interface PageRequest {
  /** 1–200, default 50. */
  limit?: number;
  cursor?: string;
}

export type RiskLevel = 'low' | 'medium' | 'high';

export interface SessionFilter extends PageRequest {
  accountId?: string;
  clientId?: string;
  riskLevel?: RiskLevel;
  deviceId?: string;
  /** ISO 3166-1 alpha-2. */
  country?: string;
  /** Sessions seen at or after this time. */
  since?: Date;
}

export interface SessionSummary {
  uid: string;
  accountId: string;
  email: string;
  clients: string[];
  /** The name of each client in `clients`, by client id (its id when it has none or is gone). */
  clientNames: Record<string, string>;
  /** How strongly the session signed in: its acr and authentication methods (null when the session does not say). */
  acr: string | null;
  amr: string[];
  deviceId: string | null;
  /** "Chrome on Windows" */
  device: string;
  ip: string;
  place: { country?: string; region?: string; city?: string } | null;
  createdAt: string;
  lastSeenAt: string;
  lastRefreshAt: string | null;
  risk: { score: number; level: RiskLevel; decision: string; reasons: string[]; at: string } | null;
}

export interface RiskEventSummary {
  id: string;
  at: string;
  type: 'login' | 'refresh';
  accountId: string;
  sessionUid: string | null;
  clientId: string;
  /** The client's name (its id when it has none or is gone). */
  clientName: string;
  ip: string;
  place: { country?: string; region?: string; city?: string } | null;
  deviceId: string | null;
  score: number;
  level: RiskLevel;
  decision: string;
  reasons: { name: string; points: number; reason: string }[];
}

export interface SessionDetail extends SessionSummary {
  riskHistory: RiskEventSummary[];
  /** The risk policy's score thresholds for the session's events (by event type, for the client of its latest event of that type). */
  riskThresholds: RiskThreshold[];
}

export interface RiskThreshold {
  type: 'login' | 'refresh';
  minScore: number;
  /** The decision at and above the score: allow, mfa, step_up, deny or revoke, with the acr asked for. */
  decision: string;
  acr?: string;
}

/** Activity counted per bucket over a window (the overview's charts; GET /admin/api/activity). */
export interface ActivityReport {
  window: 'day' | 'week';
  bucket: 'hour' | 'day';
  /** The first bucket's start and the last one's end (ISO). */
  from: string;
  to: string;
  series: {
    kind: ActivityKind;
    label: string;
    total: number;
    buckets: { start: string; count: number }[];
  }[];
}

export interface AccountSummary {
  id: string;
  email: string;
  name: string;
  roles: string[];
  disabled: boolean;
  /** The owner proved the address through an emailed link (the OIDC email_verified claim). */
  emailVerified: boolean;
  createdAt: string;
  /** In lists only: the last successful sign-in (null: none recorded) and the sign-in factors set up. */
  lastSignInAt?: string | null;
  factorStatus?: { totp: boolean; passkeys: number };
}

export interface NewInvitation {
  email: string;
  name?: string;
  roles?: string[];
}

export interface AccountDetail extends AccountSummary {
  sessions: SessionSummary[];
  devices: { id: string; name: string; compliant: boolean | null; lastReportAt: string | null }[];
  factors: { totp: boolean; passkeys: { id: string; name: string; createdAt: string }[]; recoveryCodesLeft: number };
  riskTimeline: RiskEventSummary[];
  /** Step-ups owed: the person's (`session` null; `metAt` once a sign-in met it) and each session's (the risk engine's). */
  stepUpRequired: { acr: string; reason: string; since: string; session: string | null; metAt: string | null }[];
  signInFailures: SignInFailures;
}

/** A step-up required of a person, and what it covers. */
export interface StepUpResult {
  acr: string;
  since: string;
  /** Grants held, with or without a live session: refreshes of tokens from earlier sign-ins are refused. */
  grants: number;
  /** Live sessions: their next authorization request asks for the step-up. */
  sessions: number;
}

/** Failed passwords for an account within the sign-in limits' window, by address. */
export interface SignInFailures {
  windowSeconds: number;
  /** At or past the account-wide limit: a right password alone does not sign in. */
  underAttack: boolean;
  total: number;
  byAddress: { ip: string; failures: number; refused: number; lastAt: string }[];
}

export interface AccountUnderAttack {
  accountId: string;
  email: string;
  failures: number;
  addresses: number;
}

export interface ClientSummary {
  clientId: string;
  name: string;
  grantTypes: string[];
  disabled: boolean;
  backchannelLogoutUri: string | null;
  firstParty: boolean;
}

/** A client with everything an operator may set on it (what an edit starts from). */
export interface ClientDetail extends ClientSummary {
  settings: ClientSettings;
}

/** A client just created or edited; `clientSecret` only when one was made (shown once). */
export type ClientChangeResult = ClientDetail & { clientSecret?: string };

export interface NewAccount {
  email: string;
  name?: string;
  roles?: string[];
  /** Without one the account cannot sign in with a password until one is set. */
  password?: string;
}

export interface AccountChange {
  email?: string;
  name?: string;
  roles?: string[];
}

export interface RegistrationToken {
  initialAccessToken: string;
  expiresAt: string;
}

export interface AuditFilter extends PageRequest {
  from?: Date;
  to?: Date;
  actor?: string;
  subject?: string;
  /** Exact action, or a prefix ending in `.` (e.g. `revocation.`). */
  action?: string;
  /** Actions left out (exact names), e.g. the console's page views. */
  excludeActions?: string[];
  /** Only the entries the overview counts as this kind of activity. */
  kind?: ActivityKind;
}

/** An audit entry as the API shows it: the stored entry with its time as ISO text. */
export type AuditEntryView = Omit<StoredAuditEntry, 'at'> & {
  at: string;
  /** What the actor and subject ids are, when they name an account or a client that exists: its email or name. */
  actorName?: AuditName;
  subjectName?: AuditName;
};

export interface AuditName {
  kind: 'account' | 'client';
  name: string;
}

export interface RiskFilter extends PageRequest {
  accountId?: string;
  clientId?: string;
  level?: RiskLevel;
  decision?: string;
  from?: Date;
  to?: Date;
}

/** A back-channel logout delivery with the names of its client and account (null when gone). */
export type LogoutDeliveryView = LogoutDelivery & { clientName: string; email: string | null };

/** A SET delivery with its client's name (its id when it has none or is gone). */
export type EventDeliveryView = EventDelivery & { clientName: string };

export interface Overview {
  activeSessions: number;
  /** Those sessions by the risk level of their latest assessment (`none`: never assessed). */
  sessionsByRisk: Record<RiskLevel | 'none', number>;
  last24h: {
    decisions: Record<string, number>;
    revocations: number;
    logouts: Record<LogoutDelivery['status'], number>;
    /** Shared Signals SETs queued, by delivery status. */
    securityEvents: Record<EventDelivery['status'], number>;
  };
  /** Accounts past the account-wide sign-in failure limit within its window. */
  accountsUnderAttack: AccountUnderAttack[];
}

/** An error the caller caused: unknown id (404), bad filter (400), not allowed (403). */
export class AdminError extends ApiError {
  override name = 'AdminError';
  declare readonly status: 400 | 403 | 404 | 409 | 502;

  constructor(status: AdminError['status'], code: string, message: string) {
    super(status, code, message);
  }
}

/**
 * The operations behind both the admin API and the console. Every method that changes anything
 * takes the principal: it checks the role (auditors read only), and audits who, what, from where
 * and the result.
 */
export interface AdminOperations {
  overview(): Promise<Overview>;
  /** Activity per hour over the day, or per day over the week, ending with the bucket that holds `until` (default now). */
  activity(window: ActivityReport['window'], until?: Date): Promise<ActivityReport>;
  sessions(filter: SessionFilter): Promise<Page<SessionSummary>>;
  session(uid: string): Promise<SessionDetail>;
  revokeSession(by: AdminPrincipal, uid: string, reason: string): Promise<RevocationEvent>;
  revokeAccountSessions(by: AdminPrincipal, accountId: string, reason: string): Promise<RevocationEvent>;
  revokeClientTokens(by: AdminPrincipal, clientId: string, reason: string): Promise<RevocationEvent>;
  accounts(filter: PageRequest & { query?: string }): Promise<Page<AccountSummary>>;
  account(id: string): Promise<AccountDetail>;
  setAccountDisabled(by: AdminPrincipal, id: string, disabled: boolean, reason: string): Promise<AccountSummary>;
  requireStepUp(by: AdminPrincipal, id: string, acr: string, reason: string): Promise<StepUpResult>;
  resetSecondFactors(by: AdminPrincipal, id: string, reason: string): Promise<void>;
  clients(filter: PageRequest): Promise<Page<ClientSummary>>;
  client(id: string): Promise<ClientDetail>;
  createAccount(by: AdminPrincipal, account: NewAccount, reason?: string): Promise<AccountSummary>;
  updateAccount(by: AdminPrincipal, id: string, change: AccountChange, reason?: string): Promise<AccountSummary>;
  createClient(by: AdminPrincipal, settings: ClientSettings, reason?: string): Promise<ClientChangeResult>;
  updateClient(by: AdminPrincipal, id: string, change: Partial<ClientSettings>, reason?: string): Promise<ClientChangeResult>;
  createRegistrationToken(by: AdminPrincipal, expiresIn: number, reason?: string): Promise<RegistrationToken>;
  setClientDisabled(by: AdminPrincipal, id: string, disabled: boolean, reason: string): Promise<ClientSummary>;
  rotateClientSecret(by: AdminPrincipal, id: string): Promise<{ clientId: string; clientSecret: string }>;
  audit(filter: AuditFilter): Promise<Page<AuditEntryView>>;
  riskEvents(filter: RiskFilter): Promise<Page<RiskEventSummary>>;
  logouts(filter: PageRequest & { status?: LogoutDelivery['status'] }): Promise<Page<LogoutDeliveryView>>;
  securityEventDeliveries(filter: PageRequest & { status?: EventDelivery['status'] }): Promise<Page<EventDeliveryView>>;
  setAccountRoles(by: AdminPrincipal, id: string, roles: string[], reason: string): Promise<AccountSummary & { previousRoles: string[] }>;
  invitations(filter: { pending?: boolean }): Promise<{ items: InvitationView[] }>;
  invite(by: AdminPrincipal, invitation: NewInvitation, reason?: string): Promise<InvitationView>;
  revokeInvitation(by: AdminPrincipal, id: string, reason?: string): Promise<InvitationView>;
}
