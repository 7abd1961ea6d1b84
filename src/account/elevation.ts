/**
 * The account page's "Elevated access": the roles the person may ask for, their open requests and
 * elevations, and the request itself. A sign-in weaker than the role's `min_acr` is sent through
 * the step-up first (the role would not reach its tokens otherwise).
 */
import { z } from 'zod';
import { acrLevel } from '../config/index.ts';
import { roleSchema } from '../identity/index.ts';
import { msg, type Message } from '../i18n/index.ts';
import { ElevationError, type ElevationActor, type Elevations } from '../elevation/index.ts';
import type { SignedIn } from '../first-party/index.ts';

export type AccountElevations = Pick<Elevations, 'eligibleRoles' | 'list' | 'request' | 'revoke' | 'settings'>;

export const elevationForm = z.object({
  role: roleSchema,
  minutes: z.string().regex(/^\d{1,5}$/).transform(Number),
  reason: z.string().trim().min(1).max(500).regex(/^[^\p{Cc}]+$/u),
}).loose();

export const actorOf = (signed: SignedIn, ip: string): ElevationActor => ({
  accountId: signed.account.id, actor: signed.account.id, roles: signed.account.roles, acr: signed.session.acr, authTime: signed.session.authTime, ip,
});

/** What the account page shows of the person's elevations (nothing when they are eligible for none and hold none). */
export async function elevationSection(elevations: AccountElevations, signed: SignedIn) {
  const [eligible, own] = await Promise.all([
    elevations.eligibleRoles(signed.account.id), elevations.list(actorOf(signed, ''), { accountId: signed.account.id, limit: 20 }),
  ]);
  const now = Date.now();
  const open = own.filter((e) => e.status === 'pending' || (e.status === 'active' && (e.expiresAt?.getTime() ?? 0) > now)).map((e) => ({
    id: e.id,
    text: e.status === 'pending'
      ? msg('account.elevation.pending', { role: e.role, approvals: e.approvals.length, needed: e.approvalsNeeded })
      : msg('account.elevation.active', { role: e.role, minutes: Math.ceil(((e.expiresAt?.getTime() ?? now) - now) / 60_000) }),
  }));
  const roles = eligible.flatMap((role) => {
    const rule = elevations.settings.roles.get(role);
    return rule ? [{ role, label: msg('account.elevation.roleOption', { role, max: rule.max_minutes }) }] : [];
  });
  return roles.length || open.length ? { roles, open } : undefined;
}

/** The acr the role's tokens need when the sign-in is weaker, else undefined. */
export function stepUpFor(elevations: AccountElevations, role: string, acr: string): string | undefined {
  const rule = elevations.settings.roles.get(role);
  return rule && acrLevel(acr) < acrLevel(rule.min_acr) ? rule.min_acr : undefined;
}

/** The service's refusal in the person's words. */
export function refusalMessage(err: ElevationError, role: string): Message {
  if (err.code === 'not_eligible') return msg('account.elevation.notEligible');
  if (err.status === 409) return msg('account.elevation.alreadyOpen');
  if (err.status === 400 && /at most/.test(err.message)) return msg('account.elevation.tooLong', { role, max: /at most (\d+)/.exec(err.message)![1] });
  if (err.status === 400 && /at least/.test(err.message)) return msg('account.elevation.tooShort');
  return msg('account.elevation.refused');
}
