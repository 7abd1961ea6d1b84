/** An elevation as the admin API and console show it (times ISO 8601, the seconds it has left). */
import type { Elevation } from '../elevation/index.ts';

export function elevationView(e: Elevation, now = Date.now()) {
  const live = e.status === 'active' && e.expiresAt !== undefined && e.expiresAt.getTime() > now;
  return {
    id: e.id, accountId: e.accountId, email: e.email, role: e.role, reason: e.reason, durationSeconds: e.durationSeconds,
    status: e.status === 'active' && !live ? 'expired' : e.status,
    requestedBy: e.requestedBy, requestedAt: e.requestedAt.toISOString(), approvalsNeeded: e.approvalsNeeded,
    approvals: e.approvals.map((a) => ({ approverId: a.approverId, acr: a.acr, at: a.at.toISOString() })),
    activatedAt: e.activatedAt?.toISOString() ?? null, expiresAt: e.expiresAt?.toISOString() ?? null,
    secondsLeft: live ? Math.ceil((e.expiresAt!.getTime() - now) / 1000) : 0,
    endedAt: e.endedAt?.toISOString() ?? null, endedBy: e.endedBy ?? null, endReason: e.endReason ?? null,
  };
}
