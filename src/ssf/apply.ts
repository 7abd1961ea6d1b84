/**
 * What Vigil does with the events of an accepted SET. Checked first, all of them (a malformed
 * event the SET names refuses the whole SET, nothing applied), then applied one by one:
 *
 * - CAEP device-compliance-change: the transmitter's verdict is stored on the device and goes the
 *   way of a posture report (sensitive clients' sessions on it end now, the next refresh is judged
 *   with it).
 * - RISC credential-compromise: the account's sessions and grants end, and its next sign-in must
 *   prove two factors (refused when it has no second factor).
 * - RISC account-disabled: the account is disabled, and everything it holds ends.
 * - CAEP session-revoked (from a federated IdP): the account's sessions and grants end. When the
 *   subject is an `iss_sub` of an upstream identity provider Vigil federates with, the linked
 *   account's sessions begun through that provider end (only those of the upstream session the
 *   subject names, if it names one).
 * - CAEP risk-level-change to HIGH about the person: the person owes a step-up to two factors
 *   (every grant they hold, with or without a live session, and their next sign-in).
 *
 * Other event types are accepted and ignored. A subject that names nobody is ignored alike.
 */
import { z } from 'zod';
import { firstIssue } from '../http/zod-issue.ts';
import { ACR } from '../config/index.ts';
import type { AccountStore } from '../identity/index.ts';
import type { Device, DeviceRegistry } from '../devices/index.ts';
import type { DevicePosture } from '../risk/index.ts';
import { requirePersonStepUp, type Revocations, type SignInRequirements, type StepUpRequirements } from '../sessions/index.ts';
import type { AdapterFactory } from '../store/index.ts';
import { EVENT, EVENTS_RECEIVED } from './events.ts';
import { SetRejection, type ReceivedSet } from './receiver.ts';
import { subjectAccount } from './subjects.ts';

export interface ApplyDeps {
  /** Vigil's issuer: an `iss_sub` subject with it names an account by its id. */
  issuer: string;
  accounts: AccountStore;
  devices: DeviceRegistry;
  adapters: AdapterFactory;
  revocations: Revocations;
  stepUps: StepUpRequirements;
  /** What an account's next sign-in must reach. */
  signInRequirements: SignInRequirements;
  /** A device's posture under the policy in force (with any transmitter's verdict). */
  posture: (device: Device) => DevicePosture;
  /** The path posture reports take once accepted (SETs out, sessions ended per policy). */
  onPosture: (device: Device, posture: DevicePosture, previous: DevicePosture) => Promise<void>;
  /**
   * An upstream identity provider's subject (`iss_sub` with the provider's issuer): the linked
   * account, and the Vigil sessions begun through that identity (of `upstreamSession` only, when given).
   */
  federated?: (iss: string, sub: string, upstreamSession?: string) => Promise<{ accountId: string; sessions: string[] } | undefined>;
}

/** What became of one event, for the audit trail. */
export interface EventOutcome {
  type: string;
  applied: boolean;
  note: string;
}

const simpleSubject = z.looseObject({
  format: z.string().max(64),
  email: z.string().max(320).optional(),
  uri: z.string().max(512).optional(),
  iss: z.string().max(2048).optional(),
  sub: z.string().max(512).optional(),
  id: z.string().max(512).optional(),
});
const subjectSchema = simpleSubject.extend({ user: simpleSubject.optional(), device: simpleSubject.optional(), session: simpleSubject.optional() });
type SimpleSubject = z.infer<typeof simpleSubject>;
type Subject = z.infer<typeof subjectSchema>;

const timestamp = z.number().finite().nonnegative().optional();
const EVENT_SCHEMAS: Record<string, z.ZodType> = {
  [EVENT.deviceComplianceChange]: z.looseObject({
    current_status: z.enum(['compliant', 'not-compliant']),
    previous_status: z.enum(['compliant', 'not-compliant']).optional(),
    device: simpleSubject.optional(),
    subject: subjectSchema.optional(),
    event_timestamp: timestamp,
  }),
  [EVENT.riskLevelChange]: z.looseObject({
    current_level: z.string().regex(/^(low|medium|high)$/i, 'must be LOW, MEDIUM or HIGH'),
    principal: z.string().max(64).optional(),
    subject: subjectSchema.optional(),
    event_timestamp: timestamp,
  }),
  [EVENT.sessionRevoked]: z.looseObject({ subject: subjectSchema.optional(), event_timestamp: timestamp }),
  [EVENT.credentialCompromise]: z.looseObject({ subject: subjectSchema.optional(), credential_type: z.string().max(64).optional(), event_timestamp: timestamp }),
  [EVENT.accountDisabled]: z.looseObject({ subject: subjectSchema.optional(), reason: z.string().max(64).optional(), event_timestamp: timestamp }),
};

interface PlannedEvent {
  type: string;
  claims: Record<string, unknown> & { subject?: Subject; event_timestamp?: number };
  subject: Subject | undefined;
}

/** Checks every event of the SET before any is applied; refuses the SET for a malformed or forbidden one. */
export function planEvents(set: ReceivedSet): PlannedEvent[] {
  const topSubject = set.subject === undefined ? undefined : subjectSchema.safeParse(set.subject);
  if (topSubject && !topSubject.success) throw new SetRejection('invalid_request', 'sub_id is not a subject identifier');
  return Object.entries(set.events).map(([type, raw]) => {
    const schema = EVENT_SCHEMAS[type];
    if (!schema) return { type, claims: raw, subject: topSubject?.data };
    if (set.transmitter.events && !set.transmitter.events.includes(type)) {
      throw new SetRejection('access_denied', `this transmitter may not send ${type}`);
    }
    const parsed = schema.safeParse(raw);
    if (!parsed.success) throw new SetRejection('invalid_request', `events.${type}.${firstIssue(parsed.error, { root: '' })}`);
    const claims = parsed.data as PlannedEvent['claims'];
    // RISC and early CAEP put the subject in the event; SSF 1.0 in sub_id.
    const subject = claims.subject ?? topSubject?.data;
    if (!subject) throw new SetRejection('invalid_request', `events.${type}: the SET names no subject (sub_id)`);
    return { type, claims, subject };
  });
}

export class ReceivedEventApplier {
  readonly #deps: ApplyDeps;

  constructor(deps: ApplyDeps) {
    this.#deps = deps;
  }

  async apply(set: ReceivedSet, planned: readonly PlannedEvent[]): Promise<EventOutcome[]> {
    const outcomes: EventOutcome[] = [];
    for (const event of planned) outcomes.push(await this.#applyOne(set, event));
    return outcomes;
  }

  async #applyOne(set: ReceivedSet, { type, claims, subject }: PlannedEvent): Promise<EventOutcome> {
    const done = (applied: boolean, note: string): EventOutcome => ({ type, applied, note });
    if (!EVENTS_RECEIVED.includes(type)) return done(false, 'event type not applied by Vigil');
    const from = set.transmitter.issuer;
    const cause = (what: string) => ({ initiator: 'system' as const, actor: `ssf:${from}`.slice(0, 200), reason: `${what} reported by ${from}`.slice(0, 500) });

    if (type === EVENT.deviceComplianceChange) {
      const device = await this.#device(subject, claims);
      if (!device) return done(false, 'the subject names no registered device');
      const owner = await this.#account(subject);
      if (owner !== undefined && owner !== device.accountId) return done(false, 'the device does not belong to the person the subject names');
      const compliant = claims.current_status === 'compliant';
      const at = (claims.event_timestamp ?? set.iat) * 1000;
      const previous = this.#deps.posture(device);
      if (!await this.#deps.devices.recordExternalCompliance(device.id, { compliant, issuer: from, at })) {
        return done(false, 'a later or stricter verdict on this device is stored already');
      }
      const updated = await this.#deps.devices.find(device.id);
      if (!updated) return done(false, 'the device was removed');
      await this.#deps.onPosture(updated, this.#deps.posture(updated), previous);
      return done(true, `device ${device.id} ${compliant ? 'compliant' : 'not compliant'}`);
    }

    const upstream = await this.#federated(subject, from);
    if (upstream && type === EVENT.sessionRevoked) {
      let ended = 0;
      for (const uid of upstream.sessions) if (await this.#deps.revocations.session(uid, cause('session revoked'))) ended += 1;
      return done(ended > 0, ended > 0 ? `${ended} session(s) begun through ${from} ended` : 'the person holds no session begun through this provider');
    }
    const accountId = upstream?.accountId ?? await this.#account(subject);
    if (!accountId) return done(false, 'the subject names no account');

    if (type === EVENT.accountDisabled) {
      const account = await this.#deps.accounts.findById(accountId);
      if (!account) return done(false, 'the subject names no account');
      await this.#deps.accounts.setDisabled(account.email, true);
      const ended = await this.#deps.revocations.account(accountId, cause('account disabled'));
      return done(true, `account disabled; ${ended.sessions.length} session(s) and ${ended.grants.length} grant(s) ended`);
    }
    if (type === EVENT.credentialCompromise) {
      // The password can no longer be trusted alone: the next sign-in must prove a second factor.
      await this.#deps.signInRequirements.require(accountId, ACR.twoFactor, cause('credential compromise').reason);
      const ended = await this.#deps.revocations.account(accountId, cause('credential compromise'));
      return done(true, `next sign-in needs two factors; ${ended.sessions.length} session(s) and ${ended.grants.length} grant(s) ended`);
    }
    if (type === EVENT.sessionRevoked) {
      // Two systems that each revoke on the other's session-revoked would echo it back and forth: once nothing is left, stop.
      const ended = await this.#deps.revocations.accountIfHeld(accountId, cause('session revoked'));
      if (!ended) return done(false, 'the account holds no session or grant');
      return done(true, `${ended.sessions.length} session(s) and ${ended.grants.length} grant(s) ended`);
    }
    // risk-level-change
    const level = String(claims.current_level).toUpperCase();
    const principal = typeof claims.principal === 'string' ? claims.principal.toUpperCase() : 'USER';
    if (principal !== 'USER') return done(false, `principal ${principal} is not a person`);
    if (level !== 'HIGH') return done(false, `risk level ${level}: nothing to do`);
    const owed = await requirePersonStepUp(this.#deps, accountId, ACR.twoFactor, cause('high risk').reason);
    return done(true, `the person owes a step-up to ${owed.acr}: ${owed.grants} grant(s), ${owed.sessions} live session(s)`);
  }

  /** The account a user subject names (an opaque subject names a device here, not an account). */
  #account(subject: Subject | undefined): Promise<string | undefined> {
    return subjectAccount(this.#deps, subject, false);
  }

  /**
   * An `iss_sub` subject of an upstream identity provider: its linked account and the sessions
   * begun through it. Only the provider itself (the SET's transmitter) speaks for its subjects.
   */
  async #federated(subject: Subject | undefined, from: string): Promise<{ accountId: string; sessions: string[] } | undefined> {
    const user = subject?.format === 'complex' ? subject.user : subject;
    if (!this.#deps.federated || user?.format !== 'iss_sub' || !user.iss || !user.sub || user.iss === this.#deps.issuer || user.iss !== from) return undefined;
    const session = subject?.format === 'complex' ? subject.session : undefined;
    const upstreamSession = session?.format === 'opaque' ? session.id : undefined;
    return this.#deps.federated(user.iss, user.sub, upstreamSession);
  }

  /** The device: the event's `device` member, a complex subject's `device`, or an opaque subject (Vigil's device id). */
  async #device(subject: Subject | undefined, claims: PlannedEvent['claims']): Promise<Device | undefined> {
    const named = (claims.device as SimpleSubject | undefined) ?? (subject?.format === 'complex' ? subject.device : subject);
    if (named?.format !== 'opaque' || !named.id || !/^dev_[A-Za-z0-9_-]{22}$/.test(named.id)) return undefined;
    return this.#deps.devices.find(named.id);
  }
}
