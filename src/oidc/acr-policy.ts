import { errors, interactionPolicy, type KoaContextWithOIDC } from 'oidc-provider';
import { satisfies, strongestAcr, weakestKnownAcr } from '../mfa/index.ts';
import { clientMetadata } from './client-metadata.ts';

/** A step-up a session owes: the acr to prove, by an authentication at or after `since` (epoch seconds). */
export interface OwedStepUp {
  acr: string;
  since: number;
}

export type SessionRequirement = (sessionUid: string) => Promise<OwedStepUp | undefined>;

/** Whether an authentication (its acr and time) pays what the session owes. */
export function paysStepUp(acr: string | undefined, authTime: number | undefined, owed: OwedStepUp | undefined): boolean {
  return owed === undefined || (satisfies(acr, owed.acr) && (authTime ?? 0) >= owed.since);
}

/** Refuses (`invalid_grant`) a refresh token from an authentication that does not pay what its session owes. */
export function checkRefreshPaysStepUp(token: { acr?: string | undefined; authTime?: number | undefined }, owed: OwedStepUp | undefined): void {
  if (paysStepUp(token.acr, token.authTime, owed)) return;
  throw Object.assign(new errors.InvalidGrant('step-up required'), {
    error_description: `step-up authentication required: sign in again at ${owed!.acr} through the authorization endpoint`,
  });
}

/**
 * The acr an authorization request needs: the weakest of the values it offers (acr_values or an
 * essential acr claim — they are alternatives), raised to the client's registered minimum
 * (default_acr_values) and to any step-up the session owes.
 */
export async function requiredAcr(ctx: KoaContextWithOIDC, sessionRequirement: SessionRequirement): Promise<string | undefined> {
  return (await requirementOf(ctx, sessionRequirement)).acr;
}

interface Requirement {
  acr: string | undefined;
  owed: OwedStepUp | undefined;
}

// The login check and the prompt details both ask during one request: one store read.
function requirementOf(ctx: KoaContextWithOIDC, sessionRequirement: SessionRequirement): Promise<Requirement> {
  let found = perRequest.get(ctx);
  if (!found) perRequest.set(ctx, found = computeRequirement(ctx, sessionRequirement));
  return found;
}

const perRequest = new WeakMap<object, Promise<Requirement>>();

async function computeRequirement(ctx: KoaContextWithOIDC, sessionRequirement: SessionRequirement): Promise<Requirement> {
  const { params, client, session } = ctx.oidc;
  const offered = typeof params?.acr_values === 'string' ? params.acr_values.split(' ') : [];
  const claim = (ctx.oidc.claims as { id_token?: { acr?: { essential?: boolean; value?: string; values?: string[] } } })?.id_token?.acr;
  const essential = claim?.essential ? [claim.value, ...(claim.values ?? [])].filter((v): v is string => typeof v === 'string') : [];
  const minimum = (client && clientMetadata(client).default_acr_values as string[] | undefined) ?? [];
  const owed = session?.uid ? await sessionRequirement(session.uid) : undefined;
  return { acr: strongestAcr([weakestKnownAcr(offered), weakestKnownAcr(essential), weakestKnownAcr(minimum), owed?.acr]), owed };
}

/**
 * oidc-provider's own acr checks want an exact match; Vigil treats acr as levels, so a session
 * at or above the required level needs no new authentication, and one below gets a step-up.
 */
export function interactionPolicyWithAcrLevels(sessionRequirement: SessionRequirement) {
  const { Check, base } = interactionPolicy;
  const policy = base();
  const login = policy.get('login')!;
  login.checks.remove('essential_acr');
  login.checks.remove('essential_acrs');
  login.checks.add(new Check(
    'acr_insufficient',
    'a stronger authentication is required',
    async (ctx: KoaContextWithOIDC) => {
      if (!ctx.oidc.session?.accountId) return Check.NO_NEED_TO_PROMPT;
      const { acr: need, owed } = await requirementOf(ctx, sessionRequirement);
      const fresh = paysStepUp(ctx.oidc.acr, ctx.oidc.session.authTime(), owed);
      return satisfies(ctx.oidc.acr, need) && fresh ? Check.NO_NEED_TO_PROMPT : Check.REQUEST_PROMPT;
    },
  ));
  // Whatever the reason for the login prompt, the interaction learns the level it must reach.
  const details = (login as unknown as { details: (ctx: KoaContextWithOIDC) => Promise<Record<string, unknown>> }).details;
  (login as unknown as { details: (ctx: KoaContextWithOIDC) => Promise<Record<string, unknown>> }).details = async (ctx) => ({
    ...(await details(ctx)),
    requiredAcr: await requiredAcr(ctx, sessionRequirement),
  });
  return policy;
}
