/**
 * What the admin API tests share: a Vigil on a fresh database with a people-facing admin tool (a
 * web client registered with --admin-tool), Vigil's core opened on the same database to set up
 * and to check what the API stored, three people with their admin API tokens from the real
 * sign-in pages, and a person's tokens for any client, resource and scope.
 */
import type { Authenticator } from './authenticator.ts';
import { Browser, signIn } from './browserless.ts';
import { ADMIN, discover, pkceAuthorization, startStack, type ClientOut, type PkceAuthorization, type Stack, type StackOptions } from './stack.ts';
import { enrolTotp } from './totp.ts';
import { freePort, ROOT } from './vigil-process.ts';
import { openCore, type Core } from '../../src/core.ts';
import { COMMANDS } from '../../src/cli/commands.ts';
import { loadConfig } from '../../src/config/index.ts';
import { createLogger } from '../../src/observability/index.ts';

/** The password of every account made here but the first administrator's (`ADMIN`). */
export const PASSWORD = 'correct horse battery staple 9';
export const ACR_2FA = 'urn:vigil:acr:2fa';

export interface PersonTokenOptions {
  /** The authenticator app that answers the factor page, when asked. */
  totp?: Authenticator;
  /** The admin tool by default, with `redirect` (the admin tool's redirect URI by default). */
  client?: ClientOut;
  redirect?: string;
  /** `openid admin` by default. */
  scope?: string;
  /** The admin API by default. */
  resource?: string;
  acr?: string;
}

export interface AdminApiStack extends Stack {
  core: Core;
  adminApi: string;
  devicesApi: string;
  /** The admin tool's redirect URI: nothing listens there, the sign-in stops at it. */
  redirectUri: string;
  adminTool: ClientOut;
  /** Account ids: `root` (the first administrator), `audra` (auditor) and `norm` (no admin role). */
  ids: { root: string; audra: string; norm: string };
  /** The authenticator app enrolled for root. */
  rootApp: Authenticator;
  /** Admin API tokens from the admin tool: `admin` (root) and `auditor` (audra) at two factors, `normal` (norm). */
  tokens: { admin: string; auditor: string; normal: string };
  /** A CLI command run through the core, as `vigil <command>` would; its JSON output. */
  run<T>(command: string, argv: string[]): Promise<T>;
  /** A person's tokens through the real login, factor and consent pages: by default an admin API token from the admin tool. */
  personTokens(email: string, password: string, options?: PersonTokenOptions): ReturnType<PkceAuthorization['redeem']>;
  /** Closes the core, then stops the stack. */
  stop(): Promise<void>;
}

/** Starts the stack (with `extraEnv` settings) and the admin tool named `adminToolName`; a failed start cleans up after itself. */
export async function startAdminApiStack(adminToolName: string, extraEnv: Record<string, string> = {}, options: StackOptions = {}): Promise<AdminApiStack> {
  const stack = await startStack(extraEnv, options);
  const { vigil } = stack;
  let core: Core;
  try {
    core = await openCore(loadConfig(vigil.env, ROOT), createLogger('silent'));
  } catch (err) {
    await stack.stop();
    throw err;
  }
  const stop = async () => {
    await core.close();
    await stack.stop();
  };
  try {
    const adminApi = `${vigil.issuer}/admin/api`;
    const redirectUri = `http://127.0.0.1:${await freePort()}/cb`;
    const run = async <T>(command: string, argv: string[]) => (await COMMANDS[command](core, argv)).data as T;
    // A people-facing admin tool: only clients registered so may ask for a person's admin API token.
    const adminTool = await run<ClientOut>('client create', ['--name', adminToolName, '--redirect-uri', redirectUri, '--admin-tool']);

    const personTokens = async (email: string, password: string, o: PersonTokenOptions = {}) => {
      const redirect = o.redirect ?? redirectUri;
      const resource = o.resource ?? adminApi;
      const request = await pkceAuthorization(await discover(vigil.issuer, o.client ?? adminTool), {
        redirect_uri: redirect, prompt: 'consent', scope: o.scope ?? 'openid admin', resource, ...(o.acr ? { acr_values: o.acr } : {}),
      });
      const callback = await signIn(new Browser(), request.url, email, password, redirect, { totp: o.totp && (() => o.totp!.next()) });
      return request.redeem(callback, { resource });
    };

    const ids = {
      root: (await core.accounts.findByEmail(ADMIN.email))!.id,
      audra: (await run<{ id: string }>('user create', ['--email', 'audra@vigil.test', '--password', PASSWORD, '--role', 'auditor'])).id,
      norm: (await run<{ id: string }>('user create', ['--email', 'norm@vigil.test', '--password', PASSWORD])).id,
    };
    const rootApp = await enrolTotp(core, ids.root);
    const audraApp = await enrolTotp(core, ids.audra);
    const tokens = {
      admin: (await personTokens(ADMIN.email, ADMIN.password, { totp: rootApp, acr: ACR_2FA })).access_token,
      auditor: (await personTokens('audra@vigil.test', PASSWORD, { totp: audraApp, acr: ACR_2FA })).access_token,
      normal: (await personTokens('norm@vigil.test', PASSWORD)).access_token,
    };
    return {
      ...stack, core, adminApi, devicesApi: `${vigil.issuer}/devices`, redirectUri, adminTool, ids, rootApp, tokens, run, personTokens, stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}
