import { ensureScimResourceServer } from './scim/index.ts';
import { ensureAuthzenResourceServer } from './authzen/index.ts';
import Provider, { errors, type KoaContextWithOIDC } from 'oidc-provider';
import type { JWK } from 'jose';
import type { Config } from './config/index.ts';
import { KeyRing, loadMasterKey } from './crypto/index.ts';
import { AccountCache, AccountStore } from './identity/index.ts';
import { AuditLog } from './audit/index.ts';
import { createAdapterFactory, migrate, openStores, PayloadCodec, type AdapterFactory, type DataDirHolder, type MigrationResult, type Stores } from './store/index.ts';
import { createProvider, ensureSigningKeys, ResourceServerStore, type ProviderDeps } from './oidc/index.ts';
import { LogoutOutbox, openRevocationBus, Revocations, SessionActivityLog, SignInRequirements, StepUpRequirements } from './sessions/index.ts';
import { ChallengeStore, Passkeys, RecoveryCodes, TotpFactors } from './mfa/index.ts';
import type { Logger } from './observability/index.ts';
import { DeviceRegistry, ensureDevicesResourceServer } from './devices/index.ts';
import { RiskStore } from './verification/index.ts';
import { adminResource, ensureAdminResourceServer } from './admin/auth.ts';
import { createMail, type MailSetup } from './mail/index.ts';
import { AccountEnrolments, Invitations } from './invitations/index.ts';
import { ensureSsfResourceServer, SecurityEventOutbox, SetSigner, StreamStore } from './ssf/index.ts';
import { ActiveElevations, BreakGlass, Elevations, ElevationStore, type ElevationSettings } from './elevation/index.ts';
import { loadElevationFile } from './verification/index.ts';

/** What the server and the CLI share: keys, stores (migrated), and the services over them. */
export interface Core {
  config: Config;
  keys: KeyRing;
  stores: Stores;
  accounts: AccountStore;
  audit: AuditLog;
  resourceServers: ResourceServerStore;
  adapters: AdapterFactory;
  migrations: MigrationResult;
  stepUps: StepUpRequirements;
  signInRequirements: SignInRequirements;
  activity: SessionActivityLog;
  challenges: ChallengeStore;
  totp: TotpFactors;
  recovery: RecoveryCodes;
  passkeys: Passkeys;
  devices: DeviceRegistry;
  risk: RiskStore;
  revocations: Revocations;
  logoutOutbox: LogoutOutbox;
  /** Shared Signals: event streams, the outbox of security events, the SET signer. */
  ssf: { streams: StreamStore; outbox: SecurityEventOutbox; signer: SetSigner };
  /** Mail to people: SMTP, or the outbox in the data directory. */
  mail: MailSetup;
  /** Invitations to enrol: stored hashed, mailed, listed, revoked (admin API, console, CLI). */
  invitations: Invitations;
  /** Enrolment links of accounts that exist without a sign-in method (provisioned through SCIM). */
  accountEnrolments: AccountEnrolments;
  /**
   * Just-in-time elevation and break-glass alarms; `settings.current` is the elevation file in
   * force (the server replaces it on SIGHUP).
   */
  elevation: { service: Elevations; breakGlass: BreakGlass; settings: { current: ElevationSettings } };
  buildProvider(jwks: JWK[], pages?: Partial<ProviderDeps>): Provider;
  close(): Promise<void>;
}

export async function openCore(config: Config, logger: Logger, holder: DataDirHolder = 'server'): Promise<Core> {
  // A bad elevation file stops the start (or the CLI) naming its setting, before anything opens.
  const elevationSettings = { current: loadElevationFile(config) };
  const master = loadMasterKey(config);
  if (master.createdAt) logger.warn({ path: master.createdAt }, 'created a new master key in the data directory (mode 0600); back it up, or set VIGIL_MASTER_KEY');
  const keys = new KeyRing(master.key);
  const stores = await openStores(config, holder);
  let migrations: MigrationResult;
  try {
    migrations = await migrate(stores.sql);
    if (migrations.applied.length) logger.info({ applied: migrations.applied }, 'applied migrations');
    const created = await ensureSigningKeys(stores.sql, keys);
    if (created.length) logger.info({ kids: created }, 'generated signing keys');
  } catch (err) {
    await stores.close();
    throw err;
  }
  const accounts = new AccountStore(stores.sql);
  const audit = new AuditLog(stores.sql, keys);
  const resourceServers = new ResourceServerStore(stores.sql);
  try {
    // The devices and admin APIs are resource servers of Vigil itself (the CLI can allow clients them at once).
    await ensureDevicesResourceServer(resourceServers, config);
    await ensureAdminResourceServer(resourceServers, config);
    await ensureSsfResourceServer(resourceServers, config);
    await ensureScimResourceServer(resourceServers, config);
    await ensureAuthzenResourceServer(resourceServers, config);
  } catch (err) {
    await stores.close();
    throw err;
  }
  let revocations: Revocations | undefined;
  const adapters: AdapterFactory = createAdapterFactory({
    sql: stores.sql,
    redis: stores.redis,
    codec: new PayloadCodec(keys),
    clientCacheMs: config.VIGIL_METADATA_CACHE_SECONDS * 1000,
    currentRequest: () => Provider.ctx,
    async onDoubleConsume(model, grantId) {
      // A replayed refresh token or code: someone else holds a copy, so the whole grant ends.
      if (grantId) await revocations!.grant(grantId, { initiator: 'system', actor: 'system', reason: `${model} used twice` });
      throw new errors.InvalidGrant(model === 'RefreshToken' ? 'refresh token already used' : 'grant already used');
    },
  });
  const stepUps = new StepUpRequirements(stores.sql);
  const activity = new SessionActivityLog(stores.sql);
  const risk = new RiskStore(stores.sql);
  const logoutOutbox = new LogoutOutbox(stores.sql, adapters);
  const ssf = { streams: new StreamStore(stores.sql, keys), outbox: new SecurityEventOutbox(stores.sql, config.ISSUER), signer: new SetSigner(stores.sql, keys, config.ISSUER) };
  let bus;
  try {
    bus = await openRevocationBus(stores, config.ISSUER, logger);
  } catch (err) {
    await stores.close();
    throw err;
  }
  revocations = new Revocations({
    adapters, bus, audit, logger, logouts: logoutOutbox, securityEvents: ssf.outbox,
    forgetGrants: (ids) => risk.forgetGrants(ids),
    forgetSessions: (uids) => activity.forget(uids),
    forgetClient: (clientId) => risk.forgetClient(clientId),
  });
  // What this instance keeps of accounts and clients is dropped when any instance revokes or changes them.
  const accountCache = new AccountCache((id) => accounts.findById(id), config.VIGIL_METADATA_CACHE_SECONDS * 1000);
  const elevationStore = new ElevationStore(stores.sql);
  const activeElevations = new ActiveElevations((id) => elevationStore.active(id), config.VIGIL_METADATA_CACHE_SECONDS * 1000);
  const elevations = new Elevations({
    store: elevationStore, accounts, audit, securityEvents: ssf.outbox, active: activeElevations, settings: () => elevationSettings.current,
    announce: (accountId, reason) => revocations!.accountChanged(accountId, 'elevation', reason),
  });
  bus.subscribe((event) => {
    if (event.accountId) {
      accountCache.forget(event.accountId);
      activeElevations.forget(event.accountId);
    }
    for (const clientId of event.clients) adapters.forget('Client', clientId);
    for (const grantId of event.grants) adapters.forget('Grant', grantId);
  });
  const challenges = new ChallengeStore(stores.sql);
  const mail = createMail(config, logger);
  const issuer = new URL(config.ISSUER);
  const pagesMissing = async () => {
    throw new Error('pages are served by the HTTP server only');
  };
  return {
    config, keys, stores, accounts, audit, resourceServers, adapters, migrations, stepUps, challenges, activity, risk, revocations, logoutOutbox, ssf,
    signInRequirements: new SignInRequirements(stores.sql),
    mail,
    invitations: new Invitations({ sql: stores.sql, mailer: mail.mailer, templates: mail.templates, config }),
    accountEnrolments: new AccountEnrolments({ sql: stores.sql, mailer: mail.mailer, templates: mail.templates, config }),
    devices: new DeviceRegistry(stores.sql),
    elevation: {
      service: elevations, settings: elevationSettings,
      // The refresh path asks too: the account is read through the cache the token path uses.
      breakGlass: new BreakGlass({ accounts: accountCache, audit, securityEvents: ssf.outbox, settings: () => elevationSettings.current }),
    },
    totp: new TotpFactors(stores.sql, keys, config.VIGIL_BRAND_NAME),
    recovery: new RecoveryCodes(stores.sql, keys),
    passkeys: new Passkeys(stores.sql, challenges, { id: issuer.hostname, name: 'Vigil', origin: issuer.origin }),
    buildProvider: (jwks, extra = {}) => {
      const provider = createProvider({
        config, accounts: accountCache, adapters, keys, resourceServers, jwks, adminToolResources: [adminResource(config)],
        rolesOf: (account, acr) => elevations.rolesOf(account, acr),
        sessionRequirement: (sessionUid, accountId) => stepUps.owed(sessionUid, accountId),
        renderError: pagesMissing, logoutSource: pagesMissing, postLogoutSuccessSource: pagesMissing,
        ...extra,
      });
      // A grant the provider revoked (RFC 7009, logout) is dropped from every instance's grant
      // cache before the response leaves: the client may ask another instance at once.
      provider.on('grant.revoked', (ctx: KoaContextWithOIDC, grantId: string) => {
        const announced = revocations!.providerRevokedGrant(grantId, ctx?.oidc?.client?.clientId, `${ctx?.oidc?.route ?? 'provider'}: grant revoked`);
        adapters.holdResponseFor(announced);
      });
      return provider;
    },
    close: async () => {
      await bus.close();
      await stores.close();
    },
  };
}
