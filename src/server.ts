import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type Provider from 'oidc-provider';
import type { KoaContextWithOIDC } from 'oidc-provider';
import { ConfigError, type Config } from './config/index.ts';
import { ensureAdministrator } from './identity/index.ts';
import { purgeExpired, type Stores } from './store/index.ts';
import { cookieKeys, loadJwks } from './oidc/index.ts';
import { createApp, createViews, providerPages } from './http/index.ts';
import { AttemptLimiter, interactionRoutes, LoginThrottle } from './interactions/index.ts';
import { openCore } from './core.ts';
import { accountRoutes, ensureAccountClient } from './account/index.ts';
import { Metrics, type Logger } from './observability/index.ts';
import { deviceRoutes, loadPosturePolicy, PosturePolicyError } from './devices/index.ts';

export interface RunningVigil {
  url: string;
  server: Server;
  stores: Stores;
  provider: () => Provider;
  close(): Promise<void>;
}

export interface StartNotices {
  /** Told once on the console, never to the log: the first administrator's generated password. */
  announce(message: string): void;
}

/** Opens the stores, prepares keys and accounts, and starts serving. */
export async function startVigil(config: Config, logger: Logger, notices: StartNotices): Promise<RunningVigil> {
  const core = await openCore(config, logger);
  const { keys, stores, accounts, audit } = core;
  try {
    const admin = await ensureAdministrator(accounts, config);
    if (admin) {
      await audit.append({ actor: 'system', action: 'account.bootstrap_admin', subject: admin.email, outcome: 'success' });
      logger.info({ email: admin.email }, 'created the first administrator');
      if (admin.generatedPassword) {
        notices.announce(`\n  First administrator: ${admin.email}\n  Password (shown once, never logged): ${admin.generatedPassword}\n`);
      }
    }

    await ensureAccountClient(core.adapters, config);
    let posturePolicy;
    try {
      posturePolicy = loadPosturePolicy(config.VIGIL_POSTURE_POLICY);
    } catch (err) {
      if (err instanceof PosturePolicyError) throw new ConfigError(`VIGIL_POSTURE_POLICY: ${err.message}`);
      throw err;
    }
    const metrics = new Metrics();
    const views = createViews();
    const pages = providerPages(views);
    const build = (jwks: Awaited<ReturnType<typeof loadJwks>>['keys']) => {
      const provider = core.buildProvider(jwks, pages);
      provider.on('grant.success', (ctx: KoaContextWithOIDC) => {
        metrics.tokensIssued.inc({ grant_type: String(ctx.oidc.params?.grant_type ?? 'unknown') });
      });
      provider.on('grant.error', (ctx: KoaContextWithOIDC, err: Error & { error?: string; error_detail?: string }) => {
        logger.info({ client: ctx.oidc.client?.clientId, grantType: ctx.oidc.params?.grant_type, error: err.error, detail: err.error_detail }, 'token request refused');
        if (err.error_detail === 'refresh token already used') {
          const token = ctx.oidc.entities.RefreshToken;
          void audit.append({
            actor: token?.accountId ?? 'unknown', action: 'refresh_token.reuse_detected', subject: ctx.oidc.client?.clientId,
            ip: ctx.state.clientIp, outcome: 'denied', details: { grantRevoked: token?.grantId ?? null },
          }).catch((e) => logger.error({ err: e }, 'audit write failed'));
          logger.warn({ client: ctx.oidc.client?.clientId }, 'refresh token reuse detected; grant revoked');
        }
      });
      provider.on('authorization.success', (ctx: KoaContextWithOIDC) => {
        const session = ctx.oidc.session;
        if (!session?.uid || !session.accountId) return;
        core.activity.touch(session.uid, session.accountId, ctx.get('user-agent'), ctx.state.clientIp)
          .catch((err) => logger.warn({ err }, 'could not record session activity'));
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

    const throttle = new LoginThrottle(config, stores);
    const app = createApp({
      config, stores, logger, metrics, views, provider: currentProvider, cookieKeys: cookieKeys(keys),
      routers: [interactionRoutes({
        config, provider: currentProvider, accounts, throttle, audit, keys, views, metrics, logger,
        factorLimiter: new AttemptLimiter('mfa:account', config.VIGIL_MFA_MAX_FAILURES, config.VIGIL_MFA_LOCKOUT_SECONDS, stores),
        totp: core.totp, recovery: core.recovery, passkeys: core.passkeys, challenges: core.challenges,
      }), accountRoutes({
        config, provider: currentProvider, adapters: core.adapters, accounts, audit, keys, views,
        totp: core.totp, recovery: core.recovery, passkeys: core.passkeys, activity: core.activity,
      }), deviceRoutes({
        config, provider: currentProvider, accounts, audit, devices: core.devices, policy: posturePolicy, logger,
        reportLimiter: new AttemptLimiter('devices:report:ip', config.VIGIL_LOGIN_MAX_FAILURES_PER_IP, config.VIGIL_LOGIN_LOCKOUT_SECONDS, stores),
      })],
    });

    // Key rotation and expiry take effect on every instance without a restart.
    const keyWatch = setInterval(() => {
      loadJwks(stores.sql, keys).then((next) => {
        if (next.fingerprint === keyState.fingerprint) return;
        keyState = next;
        provider = build(next.keys);
        logger.info({ keys: next.fingerprint }, 'signing keys changed; provider reloaded');
      }).catch((err) => logger.warn({ err }, 'could not reload signing keys'));
    }, config.VIGIL_KEY_REFRESH_SECONDS * 1000);
    keyWatch.unref();
    const purge = setInterval(() => {
      purgeExpired(stores.sql).catch((err) => logger.warn({ err }, 'could not purge expired records'));
    }, 10 * 60 * 1000);
    purge.unref();

    const server = createServer(app.callback());
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
      async close() {
        clearInterval(keyWatch);
        clearInterval(purge);
        await new Promise<void>((resolve) => {
          server.close(() => resolve());
          server.closeIdleConnections();
        });
        await stores.close();
      },
    };
  } catch (err) {
    await stores.close();
    throw err;
  }
}
