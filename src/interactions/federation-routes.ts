/**
 * Sign-in through an upstream identity provider: begin (redirect there), the return (OIDC
 * callback, SAML ACS — both end in one completion), linking an upstream identity to an existing
 * account after the person proves it, and the completion through the same risk assessment and
 * second-factor rules as a password sign-in.
 */
import { randomBytes } from 'node:crypto';
import Router from '@koa/router';
import type { Context } from 'koa';
import type { AuthenticationResponseJSON } from '@simplewebauthn/server';
import { ACR } from '../config/index.ts';
import { constantTimeEqual } from '../crypto/index.ts';
import { verifyPassword, type Account } from '../identity/index.ts';
import { assurance, FederationError, type ExternalIdentity, type FederationProvider } from '../federation/index.ts';
import { combineAmr, FEDERATED_AMR, PASSKEY_FAILURE_MESSAGES, PasskeyError, satisfies, strongestAcr } from '../mfa/index.ts';
import { readForm, readJson } from '../http/form.ts';
import { renderPage, viewLanguage } from '../http/views.ts';
import { msg, waitMessage, type Message } from '../i18n/index.ts';
import { invalidRequest, seeOther, type FactorSubject, type Interaction, type InteractionFederation, type InteractionKit } from './shared.ts';

const BEGUN = 'federation.begin';
const RETURNED = 'federation.identity';
const LINK_PENDING = 'federation.link';
const begunKey = (uid: string) => `federation:${uid}`;
const ticketKey = (ticket: string) => `federation-ticket:${ticket}`;
const linkKey = (uid: string) => `federation-link:${uid}`;
const linkCeremony = (uid: string) => `webauthn:federation-link:${uid}`;
/** How long the identity of a return waits for the browser's next request. */
const TICKET_SECONDS = 120;

interface Begun { provider: string; keep: Record<string, unknown> }
interface Returned { uid: string; provider: string; identity: ExternalIdentity }
interface LinkPending { provider: string; identity: ExternalIdentity }

const REFUSALS: Record<string, Message> = {
  account_disabled: msg('federation.errors.disabled'),
  provisioning_not_allowed: msg('federation.errors.notProvisioned'),
  email_unverified: msg('federation.errors.emailUnverified'),
  no_email: msg('federation.errors.noEmail'),
};

/** The outcome of completing a federated sign-in: where the browser goes next, or why not. */
export type Completion = { redirect: string } | { refused: Message; status: number };

/** Who the federated sign-in is for: an account, or one to be made just in time once the sign-in is allowed. */
type Signed = { kind: 'account'; account: Account } | { kind: 'new'; accountId: string };

export interface FederationSteps {
  router: Router;
  /** The password step for an email routed to a directory (LDAP). */
  directoryPassword(ctx: Context, interaction: Interaction, provider: FederationProvider, email: string, password: string): Promise<Completion>;
}

export function federationRoutes(kit: InteractionKit, federation: InteractionFederation): FederationSteps {
  const router = new Router();
  const { deps } = kit;
  const issuer = deps.config.ISSUER.replace(/\/$/, '');

  // 128 bits of MAC: SAML's RelayState may be at most 80 bytes (bindings §3.4.3), the uid takes 43.
  const relayMac = (uid: string) => deps.keys.mac('federation-relay', uid).slice(0, 22);
  const relayFor = (uid: string) => `${uid}.${relayMac(uid)}`;
  const uidOfRelay = (relay: string | undefined): string | undefined => {
    const [uid, mac] = (relay ?? '').split('.');
    return uid && mac && constantTimeEqual(mac, relayMac(uid)) ? uid : undefined;
  };
  const secondsLeft = (interaction: Interaction) => Math.max(60, (interaction.exp ?? 0) - Math.floor(Date.now() / 1000));

  function problemPage(ctx: Context, message: Message, status: number, uid?: string, providerName?: string) {
    const said: Message = { ...message, params: { provider: providerName ?? '', ...message.params } };
    renderPage(ctx, deps.views, 'federation-problem.njk', { title: msg('federation.problemTitle'), message: said, uid }, status);
  }

  async function failed(ctx: Context, provider: string, code: string, message: string, accountId?: string) {
    await federation.store.failed(provider, `${code}: ${message}`).catch((err) => deps.logger.warn({ err }, 'could not record the provider\'s error'));
    await deps.audit.append({ actor: accountId ?? `federation:${provider}`, action: 'federation.sign_in', ip: ctx.state.clientIp, outcome: 'failure', details: { provider, code } });
    deps.metrics.logins.inc({ outcome: 'failure' });
  }

  function upstreamProblem(err: FederationError): Message {
    return err.unreachable ? msg('federation.errors.unreachable') : msg('federation.errors.upstream');
  }

  router.get('/interaction/:uid/federation/complete', async (ctx) => {
    const interaction = await kit.interaction(ctx, 'login');
    const ticket = typeof ctx.query.ticket === 'string' ? ctx.query.ticket : '';
    const returned = /^[A-Za-z0-9_-]{43}$/.test(ticket) ? await deps.challenges.take<Returned>(ticketKey(ticket), RETURNED) : undefined;
    if (!returned || returned.data.uid !== interaction.uid) return problemPage(ctx, msg('login.errors.stepGone'), 400, interaction.uid);
    const provider = federation.registry().provider(returned.data.provider);
    if (!provider) return problemPage(ctx, msg('federation.errors.unknownProvider'), 404, interaction.uid);
    const { identity } = returned.data;
    const outcome = await federation.signIn.resolve(provider.config, identity);
    if (outcome.kind === 'refused') {
      await failed(ctx, provider.config.id, outcome.reason, 'the sign-in could not become a Vigil sign-in', outcome.accountId);
      return problemPage(ctx, REFUSALS[outcome.reason], 403, interaction.uid, provider.config.display_name);
    }
    if (outcome.kind === 'link') {
      const pending: LinkPending = { provider: provider.config.id, identity };
      await deps.challenges.put(linkKey(interaction.uid), LINK_PENDING, pending, secondsLeft(interaction), outcome.account.id);
      return seeOther(ctx, `/interaction/${interaction.uid}/federation/link`);
    }
    const done = await complete(ctx, interaction, provider, identity, outcome, [FEDERATED_AMR]);
    if ('refused' in done) return problemPage(ctx, done.refused, done.status, interaction.uid, provider.config.display_name);
    seeOther(ctx, done.redirect);
  });

  async function linkPending(interaction: Interaction) {
    const pending = await deps.challenges.peek<LinkPending>(linkKey(interaction.uid), LINK_PENDING);
    const provider = pending && federation.registry().provider(pending.data.provider);
    const account = pending?.accountId ? await deps.accounts.findById(pending.accountId) : undefined;
    if (!pending || !provider || !account) throw invalidRequest('this step is no longer current; please start again', msg('login.errors.stepGone'));
    return { identity: pending.data.identity, provider, account };
  }

  async function showLink(ctx: Context, interaction: Interaction, error?: Message, status = 200) {
    const { provider, account } = await linkPending(interaction);
    const hasPasskey = (await deps.passkeys.list(account.id)).length > 0;
    renderPage(ctx, deps.views, 'federation-link.njk', {
      title: msg('federation.linkTitle'), uid: interaction.uid, csrf: kit.csrf(interaction.uid),
      email: account.email, providerName: provider.config.display_name, hasPasskey, error,
    }, status);
  }

  router.get('/interaction/:uid/federation/link', async (ctx) => showLink(ctx, await kit.interaction(ctx, 'login')));

  router.post('/interaction/:uid/federation/link', async (ctx) => {
    const interaction = await kit.interaction(ctx, 'login');
    const form = await readForm(ctx);
    kit.checkCsrf(interaction.uid, form.csrf);
    const { identity, provider, account } = await linkPending(interaction);
    const password = form.password ?? '';
    const ip = ctx.state.clientIp as string;
    if (password.length === 0 || password.length > 1024) return showLink(ctx, interaction, msg('federation.errors.passwordMissing'), 400);
    const attempt = await deps.throttle.begin(account.email, ip);
    if (attempt.refused) {
      ctx.set('Retry-After', String(attempt.refused.retryAfterSeconds));
      await deps.audit.append({ actor: account.id, action: 'federation.link', ip, outcome: 'denied', details: { reason: 'rate_limited', limit: attempt.refused.limit, provider: provider.config.id } });
      return showLink(ctx, interaction, msg('login.errors.tooMany', { wait: waitMessage(attempt.refused.retryAfterSeconds) }), 429);
    }
    const found = await deps.accounts.findForLogin(account.email);
    if (!found || found.account.id !== account.id || !await verifyPassword(found.passwordHash, password)) {
      await deps.throttle.failed(account.email);
      await deps.verifier.loginFailed(account.id, ip);
      await deps.audit.append({ actor: account.id, action: 'federation.link', ip, outcome: 'failure', details: { reason: 'bad_password', provider: provider.config.id } });
      return showLink(ctx, interaction, msg('federation.errors.wrongPassword'), 401);
    }
    await deps.throttle.succeeded(account.email, ip);
    const done = await linkAndComplete(ctx, interaction, provider, identity, account, 'pwd', [FEDERATED_AMR, 'pwd']);
    if ('refused' in done) return problemPage(ctx, done.refused, done.status, interaction.uid, provider.config.display_name);
    seeOther(ctx, done.redirect);
  });

  router.post('/interaction/:uid/federation/link/webauthn/options', async (ctx) => {
    const interaction = await kit.interaction(ctx, 'login');
    const body = await readJson(ctx);
    kit.checkCsrf(interaction.uid, body.csrf);
    const { account } = await linkPending(interaction);
    ctx.set('Cache-Control', 'no-store');
    ctx.body = await deps.passkeys.authenticationOptions(linkCeremony(interaction.uid), account.id);
  });

  router.post('/interaction/:uid/federation/link/webauthn/verify', async (ctx) => {
    const interaction = await kit.interaction(ctx, 'login');
    const body = await readJson(ctx);
    kit.checkCsrf(interaction.uid, body.csrf);
    ctx.set('Cache-Control', 'no-store');
    const { identity, provider, account } = await linkPending(interaction);
    const t = viewLanguage(ctx, deps.views).t;
    let assertion;
    try {
      assertion = await deps.passkeys.authenticate(linkCeremony(interaction.uid), body.response as AuthenticationResponseJSON);
    } catch (err) {
      if (!(err instanceof PasskeyError)) throw err;
      await deps.audit.append({ actor: account.id, action: 'federation.link', ip: ctx.state.clientIp, outcome: 'failure', details: { reason: err.code, provider: provider.config.id } });
      ctx.status = 400;
      ctx.body = { error: 'invalid_request', error_description: t(PASSKEY_FAILURE_MESSAGES[err.code]) };
      return;
    }
    if (assertion.accountId !== account.id) {
      ctx.status = 403;
      ctx.body = { error: 'access_denied', error_description: t('federation.errors.otherAccountPasskey') };
      return;
    }
    const done = await linkAndComplete(ctx, interaction, provider, identity, account, 'passkey', combineAmr([FEDERATED_AMR], assertion.amr));
    if ('refused' in done) {
      ctx.status = done.status;
      ctx.body = { error: 'access_denied', error_description: t(done.refused) };
      return;
    }
    ctx.body = { redirect: done.redirect };
  });

  async function linkAndComplete(ctx: Context, interaction: Interaction, provider: FederationProvider, identity: ExternalIdentity, account: Account, proof: string, amr: string[]): Promise<Completion> {
    await deps.challenges.take(linkKey(interaction.uid), LINK_PENDING);
    await federation.signIn.link(provider.config, identity, account.id, ctx.state.clientIp, proof);
    return complete(ctx, interaction, provider, identity, { kind: 'account', account }, amr);
  }

  /**
   * The federated sign-in joins the path of every sign-in: the risk assessment (deny, or a second
   * factor), what the account owes, what the application asks; the upstream's assurance counts
   * only where the provider is trusted for it, and Vigil's own second factor makes up the rest.
   */
  async function complete(ctx: Context, interaction: Interaction, provider: FederationProvider, identity: ExternalIdentity, outcome: Signed, amr: string[]): Promise<Completion> {
    const ip = ctx.state.clientIp as string;
    const account = { id: outcome.kind === 'new' ? outcome.accountId : outcome.account.id };
    const verdict = await kit.assessLogin(ctx, interaction, account.id);
    const decision = verdict?.assessment.decision;
    const refuse = async (message: Message, details: Record<string, unknown>): Promise<Completion> => {
      deps.metrics.logins.inc({ outcome: 'risk_denied' });
      await deps.audit.append({
        actor: account.id, action: 'login', ip, outcome: 'denied',
        details: {
          ...details, provider: provider.config.id, ...(outcome.kind === 'new' ? { notProvisioned: true, email: identity.email } : {}),
          ...(verdict ? { score: verdict.assessment.score, rules: verdict.assessment.rules } : {}),
        },
      });
      return { refused: message, status: 403 };
    };
    if (decision?.action === 'deny') return refuse(msg('login.errors.riskDenied'), { reason: 'risk' });
    const owed = await deps.signInRequirements.find(account.id);
    const riskAcr = strongestAcr([decision?.action === 'mfa' ? decision.acr : undefined, owed?.requiredAcr]);
    const need = strongestAcr([kit.requiredAcr(interaction), riskAcr]);
    const upstreamAcr = assurance(provider.config, identity);
    const subject: FactorSubject = {
      accountId: account.id, baseAmr: amr, stepUp: false, baseAcr: upstreamAcr,
      federation: { provider: provider.config.id, subject: identity.subject, ...(identity.upstreamSession ? { upstreamSession: identity.upstreamSession } : {}) },
      ...(riskAcr ? { riskAcr } : {}), ...(verdict ? { risk: verdict.context } : {}),
    };
    // Just in time: the account is made only now that nothing refused the sign-in.
    if (outcome.kind === 'new') {
      const made = await federation.signIn.provision(provider.config, identity, outcome.accountId);
      if (made.kind !== 'account' || made.account.id !== account.id) {
        const reason = made.kind === 'refused' ? made.reason : 'provisioning_raced';
        await failed(ctx, provider.config.id, reason, 'the account could not be made', made.kind === 'refused' ? made.accountId : undefined);
        return { refused: made.kind === 'refused' ? REFUSALS[made.reason] : msg('login.errors.stepGone'), status: 409 };
      }
    }
    await deps.audit.append({
      actor: account.id, action: 'federation.sign_in', ip, outcome: 'success',
      details: { provider: provider.config.id, upstreamAcr: identity.acr ?? null, earned: upstreamAcr, ...(need ? { need } : {}) },
    });
    if (satisfies(strongestAcr([upstreamAcr, ACR.oneFactor]), need)) return { redirect: await kit.finish(ctx, interaction, account.id, amr, subject) };
    const choices = await kit.factorChoices(subject, need);
    if (!choices.passkey && !choices.totp && !choices.recovery && riskAcr && satisfies(ACR.oneFactor, kit.requiredAcr(interaction))) {
      if (owed?.kind === 'step_up') return refuse(msg('login.errors.stepUpNoFactor'), { reason: 'step_up_needs_factor', needed: riskAcr });
      return owed
        ? refuse(msg('login.errors.exposedNoFactor'), { reason: 'credentials_reported_compromised', needed: riskAcr })
        : refuse(msg('login.errors.riskNoFactor'), { reason: 'risk_needs_factor', needed: riskAcr });
    }
    // Vigil's own second factor: the factor page of this interaction takes over.
    await kit.passwordChecked(interaction, subject);
    return { redirect: `/interaction/${interaction.uid}` };
  }

  router.get('/interaction/:uid/federation/:provider', async (ctx) => {
    const interaction = await kit.interaction(ctx, 'login');
    const id = ctx.params.provider;
    const source = federation.registry().redirectSource(id);
    if (!source) return problemPage(ctx, msg('federation.errors.unknownProvider'), 404, interaction.uid);
    const hint = typeof ctx.query.login_hint === 'string' && ctx.query.login_hint.length <= 254 ? ctx.query.login_hint : undefined;
    let begun;
    try {
      begun = await source.begin({ callbackUrl: returnUrl(id, source.kind), relay: relayFor(interaction.uid), ...(hint ? { loginHint: hint } : {}) });
    } catch (err) {
      if (!(err instanceof FederationError)) throw err;
      await failed(ctx, id, err.code, err.message);
      return problemPage(ctx, upstreamProblem(err), err.unreachable ? 502 : 400, interaction.uid, federation.registry().provider(id)?.config.display_name);
    }
    const kept: Begun = { provider: id, keep: begun.keep };
    await deps.challenges.put(begunKey(interaction.uid), BEGUN, kept, secondsLeft(interaction));
    ctx.set('Cache-Control', 'no-store');
    ctx.redirect(begun.redirectTo);
  });

  const returnUrl = (id: string, kind: 'oidc' | 'saml') => `${issuer}/federation/${encodeURIComponent(id)}/${kind === 'oidc' ? 'callback' : 'acs'}`;

  /**
   * What the upstream sent back, checked by the source against what was kept at the start (single
   * use). The identity waits under a one-time ticket for the browser's next request, which carries
   * the interaction cookie (a cross-site POST — SAML's — does not).
   */
  async function returned(ctx: Context, params: Record<string, string>, relay: string | undefined) {
    const id = ctx.params.provider;
    const uid = uidOfRelay(relay);
    if (!uid) return problemPage(ctx, msg('federation.errors.badReturn'), 400);
    const begun = await deps.challenges.take<Begun>(begunKey(uid), BEGUN);
    const provider = federation.registry().provider(id);
    const source = federation.registry().redirectSource(id);
    if (!begun || begun.data.provider !== id || !provider || !source) return problemPage(ctx, msg('login.errors.stepGone'), 400, uid);
    let identity: ExternalIdentity;
    try {
      identity = await source.complete({ callbackUrl: returnUrl(id, source.kind), params, keep: begun.data.keep });
    } catch (err) {
      if (!(err instanceof FederationError)) throw err;
      deps.logger.info({ provider: id, code: err.code }, 'upstream sign-in refused');
      await failed(ctx, id, err.code, err.message);
      return problemPage(ctx, upstreamProblem(err), err.unreachable ? 502 : 400, uid, provider.config.display_name);
    }
    const ticket = randomBytes(32).toString('base64url');
    const data: Returned = { uid, provider: id, identity };
    await deps.challenges.put(ticketKey(ticket), RETURNED, data, TICKET_SECONDS);
    seeOther(ctx, `/interaction/${uid}/federation/complete?ticket=${ticket}`);
  }

  router.get('/federation/:provider/callback', async (ctx) => {
    const params = Object.fromEntries(Object.entries(ctx.query).filter((e): e is [string, string] => typeof e[1] === 'string' && e[1].length <= 8192));
    await returned(ctx, params, params.state);
  });

  router.post('/federation/:provider/acs', async (ctx) => {
    const params = await readForm(ctx, 512 * 1024);
    await returned(ctx, params, params.RelayState);
  });

  /**
   * The password step of an email routed to a directory (LDAP): the directory checks the password
   * (through the same throttle as local passwords), and its answer goes the federated way.
   */
  async function directoryPassword(ctx: Context, interaction: Interaction, provider: FederationProvider, email: string, password: string): Promise<Completion> {
    const ip = ctx.state.clientIp as string;
    const source = federation.registry().passwordSource(provider.config.id)!;
    const attempt = await deps.throttle.begin(email, ip);
    if (attempt.refused) {
      ctx.set('Retry-After', String(attempt.refused.retryAfterSeconds));
      deps.metrics.logins.inc({ outcome: 'locked' });
      await deps.audit.append({ actor: email.toLowerCase(), action: 'login', ip, outcome: 'denied', details: { reason: 'rate_limited', limit: attempt.refused.limit, provider: provider.config.id } });
      return { refused: msg('login.errors.tooMany', { wait: waitMessage(attempt.refused.retryAfterSeconds) }), status: 429 };
    }
    let identity: ExternalIdentity | undefined;
    try {
      identity = await source.authenticate(email, password);
    } catch (err) {
      if (!(err instanceof FederationError)) throw err;
      await failed(ctx, provider.config.id, err.code, err.message);
      // The login page says the error without the provider's name: it goes into the message.
      const problem = err.code === 'account_disabled' ? msg('login.errors.disabled')
        : err.unreachable ? msg('federation.errors.unreachable', { provider: provider.config.display_name }) : upstreamProblem(err);
      return { refused: problem, status: err.unreachable ? 502 : 403 };
    }
    if (!identity) {
      await deps.throttle.failed(email);
      deps.metrics.logins.inc({ outcome: 'failure' });
      await deps.audit.append({ actor: email.toLowerCase(), action: 'login', ip, outcome: 'failure', details: { reason: 'bad_password', provider: provider.config.id } });
      return { refused: msg('login.errors.wrong'), status: 401 };
    }
    await deps.throttle.succeeded(email, ip);
    const outcome = await federation.signIn.resolve(provider.config, identity);
    if (outcome.kind === 'refused') {
      await failed(ctx, provider.config.id, outcome.reason, 'the sign-in could not become a Vigil sign-in', outcome.accountId);
      return { refused: REFUSALS[outcome.reason], status: 403 };
    }
    if (outcome.kind === 'link') {
      const pending: LinkPending = { provider: provider.config.id, identity };
      await deps.challenges.put(linkKey(interaction.uid), LINK_PENDING, pending, secondsLeft(interaction), outcome.account.id);
      return { redirect: `/interaction/${interaction.uid}/federation/link` };
    }
    return complete(ctx, interaction, provider, identity, outcome, ['pwd']);
  }

  return { router, directoryPassword };
}
