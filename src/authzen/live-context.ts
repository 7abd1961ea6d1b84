/**
 * Vigil's live context for a subject that is one of its accounts (a `user` subject whose id is an
 * account id or email), read at each decision (docs/authzen.md, "Live context"):
 * - `risk_level`: the account's last assessed risk level (low, medium, high; low when never assessed);
 * - `device_compliant`: whether the person's most recently reporting device passes the posture
 *   policy now (false with no device or no report), `has_device`;
 * - `acr`: the acr of the person's most recently active session still alive (absent without one);
 * - `active`: false for a disabled account.
 * The account's `email` and `roles` become the principal's attributes.
 */
import type { Account } from '../identity/index.ts';
import type { Device, PosturePolicy } from '../devices/index.ts';
import { evaluatePosture } from '../devices/index.ts';
import type { RiskLevel } from '../risk/index.ts';
import type { SubjectFacts } from './mapping.ts';

export interface LiveContextDeps {
  accounts: { findById(id: string): Promise<Account | undefined>; findByEmail(email: string): Promise<Account | undefined> };
  riskLevel(accountId: string): Promise<RiskLevel>;
  devices: { list(accountId: string): Promise<Device[]> };
  posture: () => PosturePolicy;
  /** The account's sessions with when each was last active. */
  sessionActivity(accountId: string): Promise<Map<string, { lastSeenAt: Date }>>;
  /** A live session's stored state (oidc-provider's Session), undefined once it ended. */
  findSession(uid: string): Promise<{ acr?: unknown; jti?: unknown } | undefined>;
}

/** The subject type whose ids Vigil looks up among its accounts. */
export const ACCOUNT_SUBJECT_TYPE = 'user';
/** How many of the latest sessions are tried for a live one. */
const SESSIONS_TRIED = 5;

export class LiveContext {
  readonly #deps: LiveContextDeps;

  constructor(deps: LiveContextDeps) {
    this.#deps = deps;
  }

  async account(subject: { type: string; id: string }): Promise<Account | undefined> {
    if (subject.type !== ACCOUNT_SUBJECT_TYPE) return undefined;
    return await this.#deps.accounts.findById(subject.id)
      ?? (subject.id.includes('@') ? await this.#deps.accounts.findByEmail(subject.id) : undefined);
  }

  /** What Vigil knows of the subject now, or undefined when it is not a Vigil account. */
  async of(subject: { type: string; id: string }): Promise<SubjectFacts | undefined> {
    const account = await this.account(subject);
    if (!account) return undefined;
    const [riskLevel, device, acr] = await Promise.all([this.#deps.riskLevel(account.id), this.#device(account.id), this.#acr(account.id)]);
    return {
      attrs: { email: account.email, roles: account.roles },
      live: {
        account_id: account.id,
        active: !account.disabled,
        risk_level: riskLevel,
        has_device: device !== undefined,
        device_compliant: device?.compliant ?? false,
        ...(acr ? { acr } : {}),
      },
    };
  }

  async #device(accountId: string): Promise<{ compliant: boolean } | undefined> {
    const devices = await this.#deps.devices.list(accountId);
    if (!devices.length) return undefined;
    const latest = devices.reduce((a, b) => ((b.lastReportAt ?? 0) > (a.lastReportAt ?? 0) ? b : a));
    return evaluatePosture(latest.lastReport, latest.lastReportAt, Date.now(), this.#deps.posture(), latest.externalCompliance);
  }

  async #acr(accountId: string): Promise<string | undefined> {
    const activity = await this.#deps.sessionActivity(accountId);
    const latest = [...activity].sort((a, b) => b[1].lastSeenAt.getTime() - a[1].lastSeenAt.getTime()).slice(0, SESSIONS_TRIED);
    for (const [uid] of latest) {
      const session = await this.#deps.findSession(uid);
      if (session?.jti && typeof session.acr === 'string') return session.acr;
    }
    return undefined;
  }
}
