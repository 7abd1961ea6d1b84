import { spawn } from 'node:child_process';
import { existsSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import * as oidc from 'openid-client';
import { baseEnv, freePort, ROOT, runScript, startVigil, stopAndKeepLog, tempDir, vigilCli, type VigilProcess } from '../support/vigil-process.ts';
import { Browser, signIn } from '../support/browserless.ts';
import { discover, pkceAuthorization, type ClientOut } from '../support/stack.ts';

/**
 * The embedded default: no DATABASE_URL, everything in VIGIL_DATA_DIR (PGlite + master.key).
 * The steps run in order and share one data directory, as an operator's restarts would.
 */

const PASSWORD = 'correct horse battery staple 9';
const ANNOUNCE = /Password \(shown once, never logged\): (\S+)/;

let dataDir: string;
let port: number;
let issuer: string;
let redirectUri: string;
let env: Record<string, string>;
let vigil: VigilProcess | undefined;
let adminPassword: string;
let web: ClientOut;
let refreshToken: string;
let kids: string[];
let userId: string;

const jsonLines = (text: string) => text.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>);
const jwksKids = async () => ((await (await fetch(`${issuer}/jwks`)).json()) as { keys: Array<{ kid: string }> }).keys.map((k) => k.kid).sort();

async function login(email: string, password: string) {
  const config = await discover(issuer, web);
  const request = await pkceAuthorization(config, { redirect_uri: redirectUri, scope: 'openid email offline_access', prompt: 'consent' });
  const callback = await signIn(new Browser(), request.url, email, password, redirectUri);
  return { config, tokens: await request.redeem(callback) };
}

/**
 * The first start, by hand rather than through startVigil, so that stdout and stderr can be
 * told apart: the generated password belongs on stdout only.
 */
async function firstStart(): Promise<{ stdout: () => string; stderr: () => string; stop: () => Promise<void> }> {
  const child = spawn(process.execPath, ['--disable-warning=ExperimentalWarning', join(ROOT, 'src/main.ts')], {
    cwd: ROOT,
    env: { ...baseEnv(), NODE_ENV: 'test', HOST: '127.0.0.1', PORT: String(port), ISSUER: issuer, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => { stdout += d; });
  child.stderr.on('data', (d) => { stderr += d; });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`did not start:\n${stdout}\n${stderr}`)), 40_000);
      child.stdout.on('data', () => { if (stdout.includes('Vigil is listening')) { clearTimeout(timer); resolve(); } });
      void exited.then(() => { clearTimeout(timer); reject(new Error(`exited before listening:\n${stdout}\n${stderr}`)); });
    });
  } catch (err) {
    child.kill('SIGKILL');
    throw err;
  }
  return {
    stdout: () => stdout,
    stderr: () => stderr,
    stop: () => stopAndKeepLog(child, exited, `vigil-${port}-first.log`, () => `${stdout}\n--- stderr ---\n${stderr}`),
  };
}

beforeAll(async () => {
  dataDir = tempDir('vigil-embedded-');
  port = await freePort();
  issuer = `http://127.0.0.1:${port}`;
  redirectUri = `http://127.0.0.1:${await freePort()}/cb`;
  // No DATABASE_URL, no VIGIL_MASTER_KEY, no VIGIL_ADMIN_PASSWORD.
  env = { VIGIL_DATA_DIR: dataDir, VIGIL_ADMIN_EMAIL: 'root@vigil.test', ISSUER: issuer };
});

afterAll(async () => {
  await vigil?.stop();
  rmSync(dataDir, { recursive: true, force: true });
});

test('first start: creates master.key (0600), announces a generated admin password once on stdout, never in the log', async () => {
  const first = await firstStart();
  try {
    const keyPath = join(dataDir, 'master.key');
    expect(existsSync(keyPath)).toBe(true);
    expect(statSync(keyPath).mode & 0o777).toBe(0o600);
    const lines = jsonLines(first.stdout());
    expect(lines.find((l) => l.msg === 'Vigil is listening')).toMatchObject({ storage: 'embedded' });
    expect(lines.find((l) => typeof l.msg === 'string' && (l.msg as string).includes('created a new master key'))).toMatchObject({ path: keyPath });

    const announced = [...first.stdout().matchAll(new RegExp(ANNOUNCE, 'g'))];
    expect(announced).toHaveLength(1);
    adminPassword = announced[0][1];
    expect(adminPassword.length).toBeGreaterThanOrEqual(20);
    expect(first.stdout()).toContain('First administrator: root@vigil.test');
    expect(first.stderr()).not.toContain(adminPassword);
    for (const line of first.stdout().split('\n').filter((l) => l.startsWith('{'))) expect(line).not.toContain(adminPassword);

    // PGlite is single-process: beside the running server, the CLI has the server carry its command out.
    const listed = await runScript('src/cli.ts', ['user', 'list', '--json'], env);
    expect({ code: listed.code, stderr: listed.stderr }).toEqual({ code: 0, stderr: '' });
    expect((JSON.parse(listed.stdout) as Array<{ email: string }>).map((u) => u.email)).toEqual(['root@vigil.test']);
    await expect(fetch(`${issuer}/healthz`).then((r) => r.status)).resolves.toBe(200);
  } finally {
    await first.stop();
  }
  expect(existsSync(join(dataDir, 'vigil.lock'))).toBe(false);
});

test('with the server stopped, the CLI creates a user and a client in the embedded database', async () => {
  const user = await vigilCli<{ id: string }>(env, ['user', 'create', '--email', 'ada@vigil.test', '--password', PASSWORD, '--name', 'Ada']);
  userId = user.id;
  web = await vigilCli<ClientOut>(env, ['client', 'create', '--name', 'Web App', '--redirect-uri', redirectUri]);
  expect(web.client_secret).toBeTruthy();
});

test('second start: people sign in (the admin with the announced password); no password is announced again', async () => {
  vigil = await startVigil(env, { port });
  const { tokens } = await login('ada@vigil.test', PASSWORD);
  expect(tokens.claims()!.sub).toBe(userId);
  refreshToken = tokens.refresh_token!;
  expect(refreshToken).toBeTruthy();
  const admin = await login('root@vigil.test', adminPassword);
  expect(admin.tokens.claims()!.roles).toEqual(['admin']);
  kids = await jwksKids();
  expect(kids).toHaveLength(2);
  const ready = await (await fetch(`${issuer}/readyz`)).json();
  expect(ready).toEqual({ status: 'ready', checks: { pglite: 'ok' } });
  expect(vigil.output()).not.toMatch(ANNOUNCE);
  expect(vigil.output()).not.toMatch(/created a new master key/);
  expect(vigil.output()).not.toMatch(/generated signing keys/);
  await vigil.stop();
  vigil = undefined;
});

test('third start on the same data directory: the refresh token, keys, user and client survive', async () => {
  vigil = await startVigil(env, { port });
  expect(await jwksKids()).toEqual(kids);
  const config = await discover(issuer, web);
  const refreshed = await oidc.refreshTokenGrant(config, refreshToken);
  expect(refreshed.claims()!.sub).toBe(userId);
  expect(refreshed.refresh_token).toBeTruthy();
  const info = await oidc.fetchUserInfo(config, refreshed.access_token, userId);
  expect(info.email).toBe('ada@vigil.test');
  const output = vigil.output();
  expect(output).not.toMatch(ANNOUNCE);
  expect(output).not.toContain(adminPassword);
  expect(output).not.toMatch(/created the first administrator/);
  await vigil.stop();
  vigil = undefined;

  const users = await vigilCli<Array<{ email: string; roles: string[]; disabled: boolean }>>(env, ['user', 'list']);
  expect(users.map((u) => u.email).sort()).toEqual(['ada@vigil.test', 'root@vigil.test']);
  expect(users.find((u) => u.email === 'root@vigil.test')!.roles).toEqual(['admin']);
  const audit = await vigilCli<{ ok: boolean; entries: number }>(env, ['audit', 'verify']);
  expect(audit.ok).toBe(true);
  expect(audit.entries).toBeGreaterThan(3);
});
