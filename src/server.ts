import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import Provider, { type KoaContextWithOIDC } from 'oidc-provider';
import { ConfigError, type Config } from './config/index.ts';
import { EmailLinks, ensureAdministrator } from './identity/index.ts';
import { BatchWriter, purgeExpired, scheduleUpkeep, type Stores } from './store/index.ts';
import { cookieKeys, loadJwks } from './oidc/index.ts';
import { createApp, createViews, providerPages } from './http/index.ts';
import { loadBrand } from './branding/index.ts';
import { shippedCatalogue } from './i18n/index.ts';
import { LogoutDeliveryWorker } from './sessions/index.ts';
import { interactionRoutes, LoginThrottle, type FederatedOrigin } from './interactions/index.ts';
import { FederatedSignIn, FederationRegistry, FederationStore, directoryRefreshCheck, loadFederationFile, providerOverview } from './federation/index.ts';
import { outgoingFetch } from './http/index.ts';
import { AttemptLimiter } from './limits/index.ts';
import { openCore } from './core.ts';
import { openControlChannel } from './control/index.ts';
import { commandsOnRunningServer } from './cli/index.ts';
import { accountRoutes, ensureAccountClient } from './account/index.ts';
import { AccountRecovery, RecoveryThrottle, recoveryRoutes } from './recovery/index.ts';
import { invitationRoutes } from './invitations/index.ts';
import { Metrics, type Logger } from './observability/index.ts';
import { DrainingServer, PendingWrites } from './lifecycle/index.ts';
import { deviceRoutes } from './devices/index.ts';
import { lookupGeo, openGeoDatabase } from './geo/index.ts';
import { prepareAuditEntry, type AuditEntry, type PreparedAuditEntry } from './audit/index.ts';
import { AccessPolicyCheck, ContinuousVerifier, DeviceCookie, RiskReadAhead, loadPolicyFiles, PopulationCache, singleSignOnCheck, type PolicyFiles } from './verification/index.ts';
import { GroupRoles, ProvisioningTokens, ScimGroupService, ScimGroups, ScimRecords, ScimUsers, scimResource, scimRoutes } from './scim/index.ts';
import { AuthzenTokenClaims, authzenRoutes, DecisionPoint, LiveContext, loadAuthzenPolicy, type AuthzenPolicy } from './authzen/index.ts';
import { ExpiryWatch } from './elevation/index.ts';
import { AdminService, adminApiRoutes, adminConsoleRoutes, ensureAdminConsoleClient } from './admin/index.ts';
import { evaluatePosture, type Device } from './devices/index.ts';
import type { DevicePosture } from './risk/index.ts';
import {
  deviceComplianceChange, HeldPolls, HELD_POLLS_PER_STREAM, PushDeliveryWorker, ReceivedEventApplier, ReceivedJtis, receiveRoutes, ssfRoutes, TransmitterKeys,
} from './ssf/index.ts';

export interface RunningVigil {
  url: string;
  server: Server;
  stores: Stores;
  provider: () => Provider;
  /** Re-reads the risk policy, posture policy, network lists and access policy (SIGHUP); a bad file keeps the running ones. */
  reload(): { ok: true } | { ok: false; error: string };
  /**
   * Stops accepting connections, lets the open ones finish (at most `drainLimitMs`, then cuts
   * them), writes what was queued behind the responses and closes the stores.
   */
  close(drainLimitMs?: number): Promise<void>;
}

export interface StartNotices {
  /** Told once on the console, never to the log: the first administrator's generated password. */
  announce(message: string): void;
}

/** Opens the stores, prepares keys and accounts, and starts serving. */
export async function startVigil(config: Config, logger: Logger, notices: StartNotices): Promise<RunningVigil> {
  // Policy files first: a bad one must stop start-up before anything is created or announced.
  let files: PolicyFiles = loadPolicyFiles(config);
  // The federation file's form too (its sealed secrets are opened once the master key is).
  loadFederationFile(config.VIGIL_FEDERATION_FILE);
  let authzenPolicy: AuthzenPolicy | undefined = loadAuthzenPolicy(config);
  // The logo file and the message catalogue too: a bad one stops the start naming it.
  const brand = loadBrand(config);
  const catalogue = shippedCatalogue();
  if (!catalogue.languages.includes(config.VIGIL_DEFAULT_LANGUAGE)) {
    throw new ConfigError(`VIGIL_DEFAULT_LANGUAGE: ${config.VIGIL_DEFAULT_LANGUAGE} has no catalogue in locales/ (there: ${catalogue.languages.sort().join(', ')})`);
  }
  openGeoDatabase();
  const core = await openCore(config, logger);
  const { keys, stores, accounts, audit } = core;
  core.elevation.settings.current = files.elevation;
  const elevations = core.elevation.service;
  const rolesOf = (account: Parameters<typeof elevations.rolesOf>[0], acr: string | undefined) => elevations.rolesOf(account, acr);
  const expiryWatch = new ExpiryWatch(elevations, config.VIGIL_ELEVATION_SWEEP_SECONDS * 1000, logger);
  let stopUpkeep = async () => {};
  let closeControl = async () => {};
  try {
    // The federation file's secrets are sealed with the master key: read once the key is open.
    const federationDeps = {
      issuer: config.ISSUER, timeoutMs: config.VIGIL_FEDERATION_TIMEOUT_SECONDS * 1000,
      sql: stores.sql,
      fetch: outgoingFetch({ allowedHosts: config.VIGIL_ALLOWED_OUTGOING_HOSTS, timeoutMs: config.VIGIL_FEDERATION_TIMEOUT_SECONDS * 1000 }),
    };
    let federation = new FederationRegistry(loadFederationFile(config.VIGIL_FEDERATION_FILE, keys), federationDeps);
    const federationStore = new FederationStore(stores.sql);
    const federationProviders = () => providerOverview(federation, federationStore);
    const admin = await ensureAdministrator(accounts, config);
    if (admin) {
      await audit.append({ actor: 'system', action: 'account.bootstrap_admin', subject: admin.email, outcome: 'success' });
      logger.info({ email: admin.email }, 'created the first administrator');
      if (admin.generatedPassword) {
        notices.announce(`\n  First administrator: ${admin.email}\n  Password (shown once, never logged): ${admin.generatedPassword}\n`);
      }
    }

    await ensureAccountClient(core.adapters, config);
    await ensureAdminConsoleClient(core.adapters, config);
    if (core.mail.notice) logger[core.mail.notice.level](core.mail.notice.message);
    if (!config.VIGIL_RISK_ENGINE) logger.warn('VIGIL_RISK_ENGINE is off: sign-ins and refreshes are NOT risk-assessed');
    const metrics = new Metrics();
    const population = new PopulationCache(stores.sql, logger);
    await population.load();
    population.start();
    // Audit entries of allowed risk events: appended to the chain in batches, off the response path.
    const auditQueue = new BatchWriter('audit', (entries: PreparedAuditEntry[]) => audit.appendPrepared(entries), logger, { prepare: prepareAuditEntry });
    // With the engine on, a refresh's risk state is read with its refresh token, in one round trip.
    const readAhead = config.VIGIL_RISK_ENGINE ? new RiskReadAhead(() => Provider.ctx) : undefined;
    if (readAhead) core.adapters.readWithRefreshTokens(readAhead);
    const verifier = new ContinuousVerifier({
      config, store: core.risk, population, files: () => files, geo: lookupGeo, revocations: core.revocations, stepUps: core.stepUps,
      audit, auditQueue, logger, metrics, securityEvents: core.ssf.outbox, ...(readAhead ? { readAhead } : {}),
    });
    // What each token may carry: the access policy, on what the continuous check found about the request.
    const accessPolicy = new AccessPolicyCheck({
      files: () => files, auditQueue, logger, metrics,
      state: (ctx, grantType, accountId) => (grantType === 'refresh_token' ? verifier.refreshState(ctx) : verifier.codeExchangeState(ctx, accountId)),
    });
    const deviceCookie = new DeviceCookie(keys, config.ISSUER);
    // Writes the provider's events start after a response: waited for before the stores close.
    const afterResponse = new PendingWrites();
    const views = createViews(undefined, { brand, catalogue, defaultLanguage: config.VIGIL_DEFAULT_LANGUAGE });
    const pages = providerPages(views);
    // A session signed in through a directory (ldap provider) refreshes only while its entry is active there.
    const directoryCheck = directoryRefreshCheck({
      registry: () => federation, store: federationStore, audit: (entry) => audit.append(entry),
      end: async ({ sessionUid, grantId, accountId, clientId, reason }) => {
        const cause = { initiator: 'policy' as const, actor: 'directory', reason };
        const ended = await core.revocations.session(sessionUid, cause);
        if (grantId && !ended?.grants.includes(grantId)) await core.revocations.grant(grantId, cause, { accountId, ...(clientId ? { clientId } : {}) });
      },
    });
    const beforeRefresh = async (ctx: KoaContextWithOIDC) => {
      const token = ctx.oidc.entities.RefreshToken!;
      await directoryCheck({
        accountId: token.accountId, ip: ctx.state.clientIp, clientId: ctx.oidc.client?.clientId,
        ...(token.sessionUid ? { sessionUid: token.sessionUid } : {}), ...(token.grantId ? { grantId: token.grantId } : {}),
      });
    };
    // The AuthZEN decision point (when policies are configured), and the claims it adds to tokens.
    const decisionPoint = new DecisionPoint({
      policy: () => authzenPolicy!,
      live: new LiveContext({
        accounts, riskLevel: (id) => core.risk.riskLevel(id), devices: core.devices, posture: () => files.posture,
        sessionActivity: (id) => core.activity.forAccount(id), findSession: (uid) => core.adapters.for('Session').findByUid(uid),
      }),
      maxCandidates: config.VIGIL_AUTHZEN_SEARCH_MAX_CANDIDATES,
    });
    const ownDecisionPoint = () => (authzenPolicy ? decisionPoint : undefined);
    // Asked only while serving a token request, when the provider below exists.
    const authzenClaims = new AuthzenTokenClaims({
      provider: () => currentProvider(), accounts, self: ownDecisionPoint, logger, metrics, audit: (entry) => auditQueue.add(entry),
    });
    const build = (jwks: Awaited<ReturnType<typeof loadJwks>>['keys']) => {
      // With the engine off, the provider's own refresh check (the owed step-up) stays.
      const provider = core.buildProvider(jwks, verifier.enabled
        ? { ...pages, beforeRefresh, accessPolicy, onRefresh: (ctx) => verifier.refresh(ctx), singleSignOn: singleSignOnCheck(verifier, deviceCookie), authzenClaims: authzenClaims.claimsFor }
        : { ...pages, beforeRefresh, accessPolicy, authzenClaims: authzenClaims.claimsFor });
      provider.on('grant.success', (ctx: KoaContextWithOIDC) => {
        metrics.tokensIssued.inc({ grant_type: String(ctx.oidc.params?.grant_type ?? 'unknown') });
        // A break-glass account's refresh is a use too: alarmed like its sign-in, off the response path.
        const refreshed = ctx.oidc.params?.grant_type === 'refresh_token' ? ctx.oidc.entities.RefreshToken : undefined;
        if (refreshed?.accountId) {
          void afterResponse.track(core.elevation.breakGlass.used(refreshed.accountId, {
            how: 'refresh', ip: ctx.state.clientIp, ...(ctx.oidc.client ? { client: ctx.oidc.client.clientId } : {}), ...(refreshed.acr ? { acr: refreshed.acr } : {}),
          })).catch((err) => logger.error({ err }, 'could not raise the break-glass alarm of a refresh'));
        }
      });
      provider.on('grant.error', (ctx: KoaContextWithOIDC, err: Error & { error?: string; error_detail?: string }) => {
        logger.info({ client: ctx.oidc.client?.clientId, grantType: ctx.oidc.params?.grant_type, error: err.error, detail: err.error_detail }, 'token request refused');
        if (err.error_detail === 'refresh token already used') {
          const token = ctx.oidc.entities.RefreshToken;
          void afterResponse.track(audit.append({
            actor: token?.accountId ?? 'unknown', action: 'refresh_token.reuse_detected', subject: ctx.oidc.client?.clientId,
            ip: ctx.state.clientIp, outcome: 'denied', details: { grantRevoked: token?.grantId ?? null },
          })).catch((e) => logger.error({ err: e }, 'audit write failed'));
          logger.warn({ client: ctx.oidc.client?.clientId }, 'refresh token reuse detected; grant revoked');
        }
      });
      provider.on('authorization.success', (ctx: KoaContextWithOIDC) => {
        const session = ctx.oidc.session;
        if (!session?.uid || !session.accountId) return;
        // Written before the authorization response (the code) leaves, so before any token of
        // this session does: an administrator's session list, then revoke, never misses it.
        const touched = core.activity.touch(session.uid, session.accountId, ctx.get('user-agent'), ctx.state.clientIp)
          .catch((err) => logger.warn({ err }, 'could not record session activity'));
        if (!core.adapters.holdResponseFor(touched)) void afterResponse.track(touched);
        // A session begun with an upstream sign-in: the upstream's session events end it (the login's result rides to here, through consent).
        const origin = (ctx.oidc as unknown as { result?: { federation?: FederatedOrigin } }).result?.federation;
        if (origin) {
          const recorded = federationStore.recordSession({ sessionUid: session.uid, accountId: session.accountId, ...origin })
            .catch((err) => logger.warn({ err }, 'could not record the federated session'));
          if (!core.adapters.holdResponseFor(recorded)) void afterResponse.track(recorded);
        }
        // A sign-in just completed: its risk assessment now has a session to belong to (once the
        // session's activity row is there: the session takes the assessment's level onto it).
        const authTime = session.authTime();
        if (verifier.enabled && typeof authTime === 'number' && Date.now() / 1000 - authTime < 120) {
          const { accountId, uid } = session;
          afterResponse.track(touched.then(() => core.risk.attachLogin(accountId, ctx.state.clientIp, uid, (authTime - 120) * 1000)))
            .catch((err) => logger.warn({ err }, 'could not attach the sign-in assessment to its session'));
        }
      });
      provider.on('authorization.error', (ctx: KoaContextWithOIDC, err: Error & { error?: string; error_description?: string }) => {
        logger.info({ client: ctx.oidc?.client?.clientId, error: err.error, detail: err.error_description }, 'authorization request refused');
      });
      provider.on('server_error', (_ctx: unknown, err: Error) => logger.error({ err }, 'provider error'));
      provider.on('backchannel.error', (_ctx: unknown, err: Error, client: { clientId: string }) => {
        logger.warn({ client: client.clientId, error: err.message }, 'back-channel logout delivery failed');
      });
      provider.on('backchannel.success', (_ctx: unknown, client: { clientId: string }) => {
        logger.info({ client: client.clientId }, 'back-channel logout delivered');
      });
      return provider;
    };

    let keyState = await loadJwks(stores.sql, keys);
    let provider = build(keyState.keys);
    const currentProvider = () => provider;

    // Back-channel logouts owed by revocations (of this instance or another) go out from the queue.
    const logoutWorker = new LogoutDeliveryWorker(stores.sql, currentProvider, logger, {
      baseDelayMs: config.VIGIL_BACKCHANNEL_RETRY_SECONDS * 1000, maxAttempts: config.VIGIL_BACKCHANNEL_MAX_ATTEMPTS,
    });
    core.logoutOutbox.onQueued = () => logoutWorker.kick();
    // Security events (SSF push) go out from their outbox the same way.
    const pushWorker = new PushDeliveryWorker({ db: stores.sql, ...core.ssf, provider: currentProvider, logger }, {
      baseDelayMs: config.VIGIL_SSF_RETRY_SECONDS * 1000, maxAttempts: config.VIGIL_SSF_MAX_ATTEMPTS,
    });
    // RFC 8936 long polls wait here, woken with the push worker.
    const heldPolls = new HeldPolls(stores.sql, { maxPerStream: HELD_POLLS_PER_STREAM });
    core.ssf.outbox.onQueued = () => {
      pushWorker.kick();
      heldPolls.wake();
    };
    const unsubscribe = core.revocations.subscribe((event) => {
      if (event.origin === core.revocations.bus.instance) return;
      if (event.sessions.length) logoutWorker.kick();
      pushWorker.kick();
      heldPolls.wake();
    });
    logoutWorker.start();
    pushWorker.start();
    expiryWatch.start();
    elevations.onStarted = () => expiryWatch.kick();

    // A posture change, reported by the device, its MDM client or a trusted transmitter: SETs out, sessions ended per policy.
    const onPosture = async (device: Device, posture: DevicePosture, previous: DevicePosture) => {
      if (posture.compliant !== previous.compliant) {
        await core.ssf.outbox.emit([deviceComplianceChange(device.accountId, device.id, previous.compliant, posture.compliant, posture.reasons)])
          .catch((err) => logger.error({ err, device: device.id }, 'could not queue the device-compliance-change security event'));
      }
      const revoked = await verifier.postureChanged(device, posture).catch((err) => {
        logger.error({ err, device: device.id }, 'could not apply a posture change to the device\'s sessions');
        return 0;
      });
      if (revoked > 0) logger.warn({ device: device.id, revoked }, 'posture change ended sessions on the device');
    };
    const receivedJtis = new ReceivedJtis(stores.sql);

    const throttle = new LoginThrottle(config, stores);
    const scimGroups = new ScimGroups(stores.sql);
    const emailLinks = new EmailLinks(stores.sql);
    const recoveryThrottle = new RecoveryThrottle(config, stores);
    const accountRecovery = new AccountRecovery({
      config, accounts, links: emailLinks, throttle: recoveryThrottle, mailer: core.mail.mailer, templates: core.mail.templates, audit,
      revocations: core.revocations, stepUps: core.stepUps, securityEvents: core.ssf.outbox, totp: core.totp, passkeys: core.passkeys, recoveryCodes: core.recovery,
      logger, background: (work) => { void afterResponse.track(work); },
      signInUnlocked: (email, ip) => throttle.passwordReset(email, ip),
    });
    const adminService = new AdminService(core, {
      provider: currentProvider,
      posturePolicy: () => files.posture,
      riskPolicy: () => files.risk,
      loginLimits: { windowSeconds: config.VIGIL_LOGIN_LOCKOUT_SECONDS, accountAttackFailures: config.VIGIL_LOGIN_ACCOUNT_ATTACK_FAILURES },
    });
    let httpServer: DrainingServer | undefined;
    const app = createApp({
      config, stores, logger, metrics, views, brand, provider: currentProvider, cookieKeys: cookieKeys(keys), settleWrites: core.adapters.settle,
      draining: () => httpServer?.draining ?? false,
      routers: [interactionRoutes({
        // A sign-in's entries are written before it goes on, and carry the queued ones (risk.login) in their transaction.
        config, provider: currentProvider, accounts, throttle, audit: { append: (entry) => auditQueue.writeNow(entry) }, keys, views, metrics, logger,
        factorLimiter: new AttemptLimiter('mfa:account', config.VIGIL_MFA_MAX_FAILURES, config.VIGIL_MFA_LOCKOUT_SECONDS, stores),
        totp: core.totp, recovery: core.recovery, passkeys: core.passkeys, challenges: core.challenges,
        verifier, deviceCookie, securityEvents: core.ssf.outbox, signInRequirements: core.signInRequirements,
        accountRecovery,
        federation: {
          registry: () => federation, store: federationStore,
          signIn: new FederatedSignIn({ accounts, store: federationStore, audit: (entry) => audit.append(entry), securityEvents: core.ssf.outbox }),
        },
        onSignedIn: (accountId, use) => core.elevation.breakGlass.used(accountId, { ...use, how: 'sign-in' }).then(() => undefined),
      }), recoveryRoutes({ issuer: config.ISSUER, keys, views, recovery: accountRecovery, throttle: recoveryThrottle }), accountRoutes({
        config, provider: currentProvider, adapters: core.adapters, accounts, audit, keys, views,
        totp: core.totp, recovery: core.recovery, passkeys: core.passkeys, challenges: core.challenges, activity: core.activity, revocations: core.revocations, securityEvents: core.ssf.outbox,
        accountRecovery, elevations,
      }), invitationRoutes({
        config, invitations: core.invitations, accountEnrolments: core.accountEnrolments, keys, views, audit, challenges: core.challenges, passkeys: core.passkeys, totp: core.totp, recovery: core.recovery,
        linkLimiter: new AttemptLimiter('invitation:link:ip', config.VIGIL_LOGIN_MAX_FAILURES_PER_IP, config.VIGIL_LOGIN_LOCKOUT_SECONDS, stores),
        codeLimiter: new AttemptLimiter('invitation:code', config.VIGIL_MFA_MAX_FAILURES, config.VIGIL_MFA_LOCKOUT_SECONDS, stores),
      }), deviceRoutes({
        config, provider: currentProvider, accounts, audit, devices: core.devices, policy: () => files.posture, logger,
        onPosture,
        reportLimiter: new AttemptLimiter('devices:report:ip', config.VIGIL_LOGIN_MAX_FAILURES_PER_IP, config.VIGIL_LOGIN_LOCKOUT_SECONDS, stores),
      }), adminApiRoutes({
        config, provider: currentProvider, accounts, service: adminService, logger,
        tokenLimiter: new AttemptLimiter('admin:token:ip', config.VIGIL_LOGIN_MAX_FAILURES_PER_IP, config.VIGIL_LOGIN_LOCKOUT_SECONDS, stores),
        auditCall: (entry) => auditQueue.add(entry), federationProviders,
        elevations, rolesOf,
      }), scimRoutes({
        config, provider: currentProvider, accounts, logger,
        users: new ScimUsers({
          accounts, records: new ScimRecords(stores.sql), revocations: core.revocations, securityEvents: core.ssf.outbox, audit: (entry) => audit.append(entry),
          offerEnrolment: (account) => core.accountEnrolments.offer(account),
        }, `${scimResource(config)}/Users`),
        groups: new ScimGroupService({
          groups: scimGroups, audit: (entry) => audit.append(entry),
          roles: new GroupRoles({ accounts, groups: scimGroups, securityEvents: core.ssf.outbox, audit: (entry) => audit.append(entry), mapping: config.VIGIL_SCIM_GROUP_ROLES }),
        }, `${scimResource(config)}/Groups`, `${scimResource(config)}/Users`),
        provisioningTokens: new ProvisioningTokens(stores.sql),
        requestLimiter: new AttemptLimiter('scim:client', config.VIGIL_SCIM_REQUESTS_PER_MINUTE, 60, stores),
        tokenLimiter: new AttemptLimiter('scim:token:ip', config.VIGIL_LOGIN_MAX_FAILURES_PER_IP, config.VIGIL_LOGIN_LOCKOUT_SECONDS, stores),
      }), receiveRoutes({
        transmitters: () => files.transmitters, keys: new TransmitterKeys(currentProvider), jtis: receivedJtis, logger,
        applier: new ReceivedEventApplier({
          issuer: config.ISSUER, accounts, devices: core.devices, adapters: core.adapters, revocations: core.revocations, stepUps: core.stepUps,
          signInRequirements: core.signInRequirements,
          posture: (d) => evaluatePosture(d.lastReport, d.lastReportAt, Date.now(), files.posture, d.externalCompliance), onPosture,
          federated: async (iss, sub, upstreamSession) => {
            const provider = federation.byIssuer(iss);
            const linked = provider && await federationStore.find(provider.config.id, sub);
            if (!provider || !linked) return undefined;
            return { accountId: linked.accountId, sessions: await federationStore.sessionsOf(provider.config.id, sub, upstreamSession) };
          },
        }),
        limiter: new AttemptLimiter('ssf:receive:ip', config.VIGIL_LOGIN_MAX_FAILURES_PER_IP, config.VIGIL_LOGIN_LOCKOUT_SECONDS, stores),
        audit: (entry) => auditQueue.add(entry),
      }), ssfRoutes({
        config, provider: currentProvider, accounts, adapters: core.adapters, db: stores.sql, ...core.ssf, audit, logger, heldPolls, resourceServers: core.resourceServers,
      }), authzenRoutes({
        config, provider: currentProvider, accounts, logger, metrics, pdp: ownDecisionPoint,
        requestLimiter: new AttemptLimiter('authzen:client', config.VIGIL_AUTHZEN_REQUESTS_PER_MINUTE, 60, stores),
        tokenLimiter: new AttemptLimiter('authzen:token:ip', config.VIGIL_LOGIN_MAX_FAILURES_PER_IP, config.VIGIL_LOGIN_LOCKOUT_SECONDS, stores),
      }), adminConsoleRoutes({
        config, provider: currentProvider, adapters: core.adapters, accounts, keys, views, logger, admin: adminService, revocations: core.revocations, auditCall: (entry) => auditQueue.add(entry),
        federationProviders,
        elevations, rolesOf,
      })],
    });

    // Key rotation and expiry take effect on every instance without a restart.
    const reloadKeys = () => loadJwks(stores.sql, keys).then((next) => {
      if (next.fingerprint === keyState.fingerprint) return;
      keyState = next;
      provider = build(next.keys);
      logger.info({ keys: next.fingerprint }, 'signing keys changed; provider reloaded');
    }).catch((err) => logger.warn({ err }, 'could not reload signing keys'));
    const keyWatch = setInterval(reloadKeys, config.VIGIL_KEY_REFRESH_SECONDS * 1000);
    keyWatch.unref();
    const purgeOutbox = () => core.mail.outbox.purge(new Date(Date.now() - config.VIGIL_MAIL_OUTBOX_DAYS * 86_400_000))
      .then((deleted) => { if (deleted) logger.info({ deleted }, `deleted outbox mail older than ${config.VIGIL_MAIL_OUTBOX_DAYS} days`); })
      .catch((err) => logger.warn({ err }, 'could not clean the mail outbox'));
    void purgeOutbox();
    const removeOldAudit = async () => {
      if (!config.VIGIL_AUDIT_RETENTION_DAYS) return;
      const removed = await core.audit.removeBefore(new Date(Date.now() - config.VIGIL_AUDIT_RETENTION_DAYS * 86_400_000));
      if (removed) logger.info({ removed }, `removed audit entries older than ${config.VIGIL_AUDIT_RETENTION_DAYS} days (checkpointed)`);
    };
    const purge = setInterval(() => {
      void purgeOutbox();
      purgeExpired(stores.sql)
        .then(() => core.risk.purge(config.VIGIL_RISK_RETENTION_DAYS, config.VIGIL_REFRESH_TOKEN_TTL))
        .then(() => removeOldAudit())
        .then(() => receivedJtis.purge())
        .then(() => emailLinks.purge())
        .then(() => core.invitations.purge())
        .then(() => federationStore.purge(config.VIGIL_SESSION_TTL))
        .catch((err) => logger.warn({ err }, 'could not purge expired records'));
    }, 10 * 60 * 1000);
    purge.unref();
    stopUpkeep = await scheduleUpkeep(stores.sql, { mode: config.VIGIL_DB_UPKEEP, intervalSeconds: config.VIGIL_DB_UPKEEP_SECONDS, logger });

    // Embedded: the CLI cannot open the database this process holds, so it sends its commands here.
    if (config.storageMode === 'embedded') {
      const run = commandsOnRunningServer(core, logger);
      // Rotated keys are published at once, not at the next key watch.
      const control = await openControlChannel({ dataDir: config.dataDir, logger, run: (argv) => run(argv).finally(() => argv[0] === 'keys' && reloadKeys()) });
      if (control) closeControl = () => control.close();
    }

    httpServer = new DrainingServer(app.callback());
    const server = httpServer.server;
    server.keepAliveTimeout = config.VIGIL_HTTP_KEEP_ALIVE_SECONDS * 1000;
    server.headersTimeout = 20_000;
    server.requestTimeout = 30_000;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(config.PORT, config.HOST, () => resolve());
    });
    const address = server.address() as AddressInfo;
    const url = `http://${address.family === 'IPv6' ? `[${address.address}]` : address.address}:${address.port}`;
    logger.info({ url, issuer: config.ISSUER, storage: config.storageMode }, 'Vigil is listening');

    return {
      url,
      server,
      stores,
      provider: currentProvider,
      reload() {
        try {
          // Read together: a bad file keeps every running version, the providers included.
          const nextFiles = loadPolicyFiles(config);
          const nextFederation = new FederationRegistry(loadFederationFile(config.VIGIL_FEDERATION_FILE, keys), federationDeps);
          const nextAuthzen = loadAuthzenPolicy(config);
          files = nextFiles;
          federation = nextFederation;
          authzenPolicy = nextAuthzen;
          files = loadPolicyFiles(config);
          core.elevation.settings.current = files.elevation;
        } catch (err) {
          const error = err instanceof ConfigError ? err.message : String(err);
          logger.error({ error }, 'reload refused: keeping the policies and lists in force');
          return { ok: false, error };
        }
        logger.info({ networkLists: files.networkListSizes, transmitters: files.transmitters.length, federationProviders: federation.list().length, accessPolicies: files.access?.policies.length ?? 'off' },
          'reloaded the risk policy, posture policy, network lists, trusted transmitters, federation providers and access policy');
        logger.info({ networkLists: files.networkListSizes, transmitters: files.transmitters.length }, 'reloaded the risk policy, posture policy, network lists, trusted transmitters and elevation file');
        return { ok: true };
      },
      async close(drainLimitMs = 10_000) {
        heldPolls.close();
        const drained = httpServer.drain(drainLimitMs);
        const controlClosed = closeControl();
        logger.info({ connections: httpServer.connections, limitSeconds: drainLimitMs / 1000 }, 'stopped accepting connections; finishing the open ones');
        clearInterval(keyWatch);
        clearInterval(purge);
        await stopUpkeep();
        const { cut, tookMs } = await drained;
        if (cut) logger.warn({ cut, tookMs }, 'connections still open at the limit were cut');
        else logger.info({ tookMs }, 'every open connection finished');
        unsubscribe();
        await logoutWorker.stop();
        await pushWorker.stop();
        await expiryWatch.stop();
        // What the responses left running or queued behind them: written before the stores close.
        await controlClosed;
        await afterResponse.settled();
        await population.stop().catch((err) => logger.warn({ err }, 'could not write population counts'));
        await verifier.flush();
        await auditQueue.drain();
        logger.info('queued writes flushed');
        await core.close();
      },
    };
  } catch (err) {
    await closeControl();
    await stopUpkeep();
    await core.close();
    throw err;
  }
}
