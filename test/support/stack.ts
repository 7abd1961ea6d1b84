import * as oidc from 'openid-client';
import { freshDatabase, freshRedis } from './services.ts';
import { freePort, newMasterKey, startVigil, type VigilProcess } from './vigil-process.ts';

/**
 * What integration and end-to-end tests share: a running Vigil on a fresh Postgres database and
 * Redis database of its own, and the relying party's side of discovery and the authorization request.
 */

/** A client as `vigil client create --json` prints it (the fields every test needs). */
export interface ClientOut { client_id: string; client_secret?: string }

/** The first administrator every stack creates. */
export const ADMIN = { email: 'root@vigil.test', password: 'an admin password 123' };

export interface StackOptions {
  /** The port of the (first) instance; a free one by default. */
  port?: number;
  /** The issuer's host: WebAuthn refuses IP addresses as RP IDs, so browser tests use `localhost`. */
  issuerHost?: 'localhost' | '127.0.0.1';
  /**
   * How many instances to start at once on the one database, Redis database and master key, as the
   * replicas of one deployment behind a load balancer: all serve the first one's issuer.
   */
  instances?: number;
}

export interface Stack {
  /** The first instance. */
  vigil: VigilProcess;
  /** Every instance, the first one first. */
  instances: VigilProcess[];
  /** The environment the instances run with (ISSUER included): for `vigilCli` too. */
  env: Record<string, string>;
  db: Awaited<ReturnType<typeof freshDatabase>>;
  redis: Awaited<ReturnType<typeof freshRedis>>;
  /** Stops the instances, then empties the Redis database and drops the Postgres one. */
  stop(): Promise<void>;
}

/**
 * Starts Vigil on a fresh Postgres and Redis with a new master key and the first administrator
 * (`ADMIN`); `extraEnv` adds settings or overrides these. A failed start cleans up after itself.
 */
export async function startStack(extraEnv: Record<string, string> = {}, options: StackOptions = {}): Promise<Stack> {
  const [db, redis] = await Promise.allSettled([freshDatabase(), freshRedis()]);
  const instances: VigilProcess[] = [];
  const stop = async () => {
    await Promise.all(instances.map((v) => v.stop()));
    if (redis.status === 'fulfilled') await redis.value.close();
    if (db.status === 'fulfilled') await db.value.drop();
  };
  try {
    if (db.status === 'rejected') throw db.reason;
    if (redis.status === 'rejected') throw redis.reason;
    const port = options.port ?? await freePort();
    const env: Record<string, string> = {
      DATABASE_URL: db.value.url,
      REDIS_URL: redis.value.url,
      VIGIL_MASTER_KEY: newMasterKey(),
      VIGIL_ADMIN_EMAIL: ADMIN.email,
      VIGIL_ADMIN_PASSWORD: ADMIN.password,
      ISSUER: `http://${options.issuerHost ?? '127.0.0.1'}:${port}`,
      ...extraEnv,
    };
    const started = await Promise.allSettled(Array.from({ length: options.instances ?? 1 }, (_, i) => startVigil(env, i === 0 ? { port } : {})));
    // Keep whichever started, so that stop() stops it even when another did not.
    for (const s of started) if (s.status === 'fulfilled') instances.push(s.value);
    for (const s of started) if (s.status === 'rejected') throw s.reason;
    return { vigil: instances[0], instances, env, db: db.value, redis: redis.value, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

/** openid-client against a test issuer, which is plain http. */
export const insecure = { execute: [oidc.allowInsecureRequests] };

/** The relying party's configuration for `client` at `issuer`. */
export function discover(issuer: string, client: ClientOut, options: oidc.DiscoveryRequestOptions = insecure): Promise<oidc.Configuration> {
  return oidc.discovery(new URL(issuer), client.client_id, client.client_secret, undefined, options);
}

export interface PkceAuthorization {
  config: oidc.Configuration;
  /** The authorization request to send the browser to. */
  url: string;
  verifier: string;
  state: string;
  /** What the callback is checked against, for `oidc.authorizationCodeGrant` on any configuration. */
  checks: { pkceCodeVerifier: string; expectedState: string };
  /** The code in the callback exchanged (on `config`) for tokens. */
  redeem(callback: string | URL, parameters?: Record<string, string>): ReturnType<typeof oidc.authorizationCodeGrant>;
}

/** An authorization request with `params`, a fresh PKCE verifier (S256) and a fresh state. */
export async function pkceAuthorization(config: oidc.Configuration, params: Record<string, string>): Promise<PkceAuthorization> {
  const verifier = oidc.randomPKCECodeVerifier();
  const state = oidc.randomState();
  const url = oidc.buildAuthorizationUrl(config, {
    ...params,
    code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
    state,
  });
  const checks = { pkceCodeVerifier: verifier, expectedState: state };
  return {
    config, url: url.toString(), verifier, state, checks,
    redeem: (callback, parameters) => oidc.authorizationCodeGrant(config, new URL(callback), checks, parameters),
  };
}
