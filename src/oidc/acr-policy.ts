import { errors, interactionPolicy, type KoaContextWithOIDC } from 'oidc-provider';
import { satisfies, strongestAcr, weakestKnownAcr } from '../mfa/index.ts';
import { clientMetadata } from './client-metadata.ts';

/**
 * A step-up owed: the acr to prove, by an authentication at or after `since` (epoch seconds). Once
 * met (`metAt`, a person's requirement), an authentication from then on pays it at any level.
 */
export interface OwedStepUp {
  acr: string;
  since: number;
  metAt?: number;
  /** The session's own (the risk engine's) or its person's (an administrator's, a security event's). */
  owedBy?: 'session' | 'person';
}

/** Every step-up an authentication of this session of this account must pay (the session's own and the person's). */
export type SessionRequirement = (sessionUid: string | undefined, accountId: string | undefined) => Promise<readonly OwedStepUp[]>;

/**
 * A sign-in by an existing session (single sign-on) judged on its own context (the risk engine):
 * undefined when it may go on, else what it must prove now.
 */
export type SingleSignOnCheck = (ctx: KoaContextWithOIDC) => Promise<OwedStepUp | undefined>;

/** Whether an authentication (its acr and time) pays a step-up. */
export function paysStepUp(acr: string | undefined, authTime: number | undefined, owed: OwedStepUp): boolean {
  const time = authTime ?? 0;
  return time >= owed.since && (satisfies(acr, owed.acr) || (owed.metAt !== undefined && time >= owed.metAt));
}

/** The step-ups an authentication does not pay. */
export function unpaidStepUps(acr: string | undefined, authTime: number | undefined, owed: readonly OwedStepUp[]): OwedStepUp[] {
  return owed.filter((o) => !paysStepUp(acr, authTime, o));
}

/** Refuses (`invalid_grant`) a refresh token from an authentication that does not pay every step-up owed. */
export function checkRefreshPaysStepUp(token: { acr?: string | undefined; authTime?: number | undefined }, owed: readonly OwedStepUp[]): void {
  const unpaid = unpaidStepUps(token.acr, token.authTime, owed);
  if (unpaid.length === 0) return;
  throw Object.assign(new errors.InvalidGrant('step-up required'), {
    error_description: `step-up authentication required: sign in again at ${strongestAcr(unpaid.map((o) => o.acr))} through the authorization endpoint`,
  });
}

/**
 * The acr an authorization request needs: the weakest of the values it offers (acr_values or an
 * essential acr claim — they are alternatives), raised to the client's registered minimum
 * (default_acr_values) and to any step-up the session or its person owes.
 */
export async function requiredAcr(ctx: KoaContextWithOIDC, sessionRequirement: SessionRequirement, singleSignOn?: SingleSignOnCheck): Promise<string | undefined> {
  return (await requirementOf(ctx, sessionRequirement, singleSignOn)).acr;
}

interface Requirement {
  acr: string | undefined;
  owed: readonly OwedStepUp[];
}

// The login check and the prompt details both ask during one request: one store read.
function requirementOf(ctx: KoaContextWithOIDC, sessionRequirement: SessionRequirement, singleSignOn?: SingleSignOnCheck): Promise<Requirement> {
  let found = perRequest.get(ctx);
  if (!found) perRequest.set(ctx, found = computeRequirement(ctx, sessionRequirement, singleSignOn));
  return found;
}

const perRequest = new WeakMap<object, Promise<Requirement>>();

async function computeRequirement(ctx: KoaContextWithOIDC, sessionRequirement: SessionRequirement, singleSignOn?: SingleSignOnCheck): Promise<Requirement> {
  const { params, client, session } = ctx.oidc;
  const offered = typeof params?.acr_values === 'string' ? params.acr_values.split(' ') : [];
  const claim = (ctx.oidc.claims as { id_token?: { acr?: { essential?: boolean; value?: string; values?: string[] } } })?.id_token?.acr;
  const essential = claim?.essential ? [claim.value, ...(claim.values ?? [])].filter((v): v is string => typeof v === 'string') : [];
  const minimum = (client && clientMetadata(client).default_acr_values as string[] | undefined) ?? [];
  // A session that has signed nobody in (a first authorization request) owes nothing: a step-up is owed by a signed-in session or a person.
  let owed = session?.uid && session.accountId ? await sessionRequirement(session.uid, session.accountId) : [];
  // A session signing in to a client without a login page is judged too; not when the request
  // resumes a finished interaction (that sign-in was judged on the pages) or asks for a login anyway.
  const prompts = typeof params?.prompt === 'string' ? params.prompt.split(' ') : [];
  if (singleSignOn && session?.accountId && !ctx.oidc.result && !prompts.includes('login')) {
    const risky = await singleSignOn(ctx);
    if (risky) owed = [...owed, risky];
  }
  // A met requirement this session pays raises nothing: later sign-ins need no more than they would have.
  const raised = owed.filter((o) => o.metAt === undefined || !paysStepUp(ctx.oidc.acr, session?.authTime(), o)).map((o) => o.acr);
  return { acr: strongestAcr([weakestKnownAcr(offered), weakestKnownAcr(essential), weakestKnownAcr(minimum), ...raised]), owed };
}

/**
 * oidc-provider's own acr checks want an exact match; Vigil treats acr as levels, so a session
 * at or above the required level needs no new authentication, and one below gets a step-up.
 */
export function interactionPolicyWithAcrLevels(sessionRequirement: SessionRequirement, singleSignOn?: SingleSignOnCheck) {
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
      const { acr: need, owed } = await requirementOf(ctx, sessionRequirement, singleSignOn);
      const fresh = unpaidStepUps(ctx.oidc.acr, ctx.oidc.session.authTime(), owed).length === 0;
      return satisfies(ctx.oidc.acr, need) && fresh ? Check.NO_NEED_TO_PROMPT : Check.REQUEST_PROMPT;
    },
  ));
  // Whatever the reason for the login prompt, the interaction learns the level it must reach.
  const details = (login as unknown as { details: (ctx: KoaContextWithOIDC) => Promise<Record<string, unknown>> }).details;
  // And who asked for a step-up this session owes (so that the page does not blame the application).
  (login as unknown as { details: (ctx: KoaContextWithOIDC) => Promise<Record<string, unknown>> }).details = async (ctx) => {
    const { acr, owed } = await requirementOf(ctx, sessionRequirement, singleSignOn);
    const unpaid = ctx.oidc.session?.accountId ? unpaidStepUps(ctx.oidc.acr, ctx.oidc.session.authTime(), owed) : [];
    const stepUpOwedBy = unpaid.some((o) => o.owedBy === 'person') ? 'person' : unpaid.some((o) => o.owedBy === 'session') ? 'session' : undefined;
    return { ...(await details(ctx)), requiredAcr: acr, ...(stepUpOwedBy ? { stepUpOwedBy } : {}) };
  };
  return policy;
}
