/**
 * A sign-in by a session the browser already holds (single sign-on to another client, or the
 * same one again, with no login page) is judged by the risk engine on its own context: the
 * request's address and agent and the browser's device cookie. A stolen session cookie replayed
 * from elsewhere thus meets the same checks as a password. What the engine asks becomes a fresh
 * authentication the session owes for this request (the step-up page); `deny` asks for a
 * phishing-resistant one, which only the person can give.
 */
import type { KoaContextWithOIDC } from 'oidc-provider';
import { ACR } from '../config/acr.ts';
import type { OwedStepUp, SingleSignOnCheck } from '../oidc/index.ts';
import type { DeviceCookie } from './device-cookie.ts';
import { MAX_USER_AGENT } from './end-user.ts';
import type { ContinuousVerifier } from './verifier.ts';

export function singleSignOnCheck(verifier: ContinuousVerifier, deviceCookie: DeviceCookie, now: () => number = Date.now): SingleSignOnCheck {
  return async (ctx: KoaContextWithOIDC): Promise<OwedStepUp | undefined> => {
    const accountId = ctx.oidc.session?.accountId;
    const clientId = ctx.oidc.client?.clientId;
    if (!verifier.enabled || !accountId || !clientId) return undefined;
    const deviceId = deviceCookie.read(ctx);
    const decision = await verifier.singleSignOn({
      accountId, clientId, ip: String(ctx.state.clientIp ?? ctx.ip), userAgent: ctx.get('user-agent').slice(0, MAX_USER_AGENT),
      ...(deviceId ? { deviceId } : {}),
    });
    if (!decision || decision.action === 'allow') return undefined;
    const acr = decision.action === 'mfa' ? decision.acr : ACR.phishingResistant;
    return { acr, since: Math.floor(now() / 1000), owedBy: 'session' };
  };
}
