import { spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createConnection } from 'node:net';
import { join } from 'node:path';
import * as oidc from 'openid-client';
import { freePort, runScript, startVigil, tempDir, type RunResult, type VigilProcess } from '../support/vigil-process.ts';
import { Browser, signIn } from '../support/browserless.ts';
import { discover, pkceAuthorization, type ClientOut } from '../support/stack.ts';

/**
 * The embedded default with the server running: the CLI cannot open the database the server
 * holds, so the server carries its commands out through a Unix socket in VIGIL_DATA_DIR. The
 * steps run in order on one data directory, as an operator's would.
 */

const PASSWORD = 'correct horse battery staple 9';

let dataDir: string;
let socketPath: string;
let issuer: string;
let redirectUri: string;
let env: Record<string, string>;
let vigil: VigilProcess | undefined;
let web: ClientOut;
let bob: { email: string; password: string };
let registrationToken: string;
let throughServer: RunResult[];

// A CLI run loads everything the server does (seconds on a busy machine): a generous limit.
const cli = (args: string[], extraEnv: Record<string, string> = {}) => runScript('src/cli.ts', args, { ...env, ...extraEnv }, 120_000);

async function cliJson<T>(args: string[]): Promise<T> {
  const result = await cli([...args, '--json']);
  if (result.code !== 0) throw new Error(`vigil ${args.join(' ')} exited ${result.code}: ${result.stderr}`);
  expect(result.stderr).toBe('');
  return JSON.parse(result.stdout) as T;
}

/** Commands whose answer does not depend on when they run: the same through the server and without it. */
const SAME: string[][] = [
  ['user', 'list'],
  ['user', 'list', '--json'],
  ['keys', 'list', '--json'],
  ['user', 'create', '--email', 'ADA@vigil.test', '--password', PASSWORD, '--json'],
  ['user', 'create', '--password', PASSWORD],
  ['user', 'disable', '--email', 'nobody@vigil.test', '--json'],
  ['client', 'create', '--name', 'Evil', '--redirect-uri', 'http://evil.example/cb', '--json'],
  ['registration-token', 'create', '--expires-in', 'abc'],
  ['frobnicate', '--json'],
];

/** What a process that is not the CLI gets for sending `payload` to the control socket. */
function sendRaw(payload: string | Buffer, path = socketPath): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = createConnection({ path, allowHalfOpen: true });
    let answer = '';
    socket.on('data', (d) => { answer += d; });
    socket.once('end', () => resolve(answer));
    socket.once('error', reject);
    socket.end(payload);
  });
}

async function login(email: string, password: string) {
  const config = await discover(issuer, web);
  const request = await pkceAuthorization(config, { redirect_uri: redirectUri, scope: 'openid email offline_access', prompt: 'consent' });
  const callback = await signIn(new Browser(), request.url, email, password, redirectUri);
  return { config, tokens: await request.redeem(callback) };
}

beforeAll(async () => {
  dataDir = tempDir('vigil-control-');
  socketPath = join(dataDir, 'control.sock');
  const port = await freePort();
  issuer = `http://127.0.0.1:${port}`;
  redirectUri = `http://127.0.0.1:${await freePort()}/cb`;
  env = { VIGIL_DATA_DIR: dataDir, VIGIL_ADMIN_EMAIL: 'root@vigil.test', VIGIL_ADMIN_PASSWORD: 'an admin password 123', ISSUER: issuer };
  vigil = await startVigil(env, { port, timeoutMs: 90_000 });
}, 120_000);

afterAll(async () => {
  await vigil?.stop();
  rmSync(dataDir, { recursive: true, force: true });
});

test('the running server listens for the CLI on a socket in VIGIL_DATA_DIR that only this user can reach (0600)', () => {
  const socket = statSync(socketPath);
  expect(socket.isSocket()).toBe(true);
  expect(socket.mode & 0o777).toBe(0o600);
  expect(socket.uid).toBe(process.getuid!());
  expect(existsSync(join(dataDir, 'vigil.lock'))).toBe(true);
});

test('with the server running, user create, client create and registration-token create work; the new client signs the new user in at once', async () => {
  const [ada, created, token, bobText] = await Promise.all([
    cliJson<{ id: string; email: string; name: string; password?: string }>(['user', 'create', '--email', 'ada@vigil.test', '--password', PASSWORD, '--name', 'Ada']),
    cliJson<ClientOut & { redirect_uris: string[] }>(['client', 'create', '--name', 'Web App', '--redirect-uri', redirectUri]),
    cliJson<{ initial_access_token: string; expires_at: string }>(['registration-token', 'create', '--expires-in', '600']),
    // Without --json: the text, with the generated password shown once.
    cli(['user', 'create', '--email', 'bob@vigil.test']),
  ]);
  web = created;
  registrationToken = token.initial_access_token;
  expect(ada).toMatchObject({ email: 'ada@vigil.test', name: 'Ada' });
  expect(ada.password).toBeUndefined();
  expect(web.client_secret).toMatch(/^[A-Za-z0-9_-]{40,}$/);
  expect(created.redirect_uris).toEqual([redirectUri]);
  expect(bobText.code).toBe(0);
  expect(bobText.stderr).toBe('');
  const shown = /^created bob@vigil\.test \([0-9a-f-]{36}\)\npassword \(shown once\): (\S+)\n$/.exec(bobText.stdout);
  expect(shown).not.toBeNull();
  bob = { email: 'bob@vigil.test', password: shown![1] };

  // At once: no restart, no wait.
  const { tokens } = await login('ada@vigil.test', PASSWORD);
  expect(tokens.claims()!.sub).toBe(ada.id);
  expect(tokens.claims()!.email).toBe('ada@vigil.test');
  const registered = await fetch(`${issuer}/reg`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token.initial_access_token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ client_name: 'Registered', redirect_uris: ['https://rp.vigil.test/cb'] }),
  });
  expect(registered.status).toBe(201);

  // The server ran them; its log names each command, never a password or a secret.
  const log = vigil!.output();
  for (const command of ['user create', 'client create', 'registration-token create']) {
    expect(log).toContain(`"command":"${command}","exitCode":0,"msg":"ran a vigil command for the CLI"`);
  }
  for (const secret of [PASSWORD, web.client_secret!, registrationToken, bob.password]) expect(log).not.toContain(secret);
});

test('user disable and keys rotate through the running server take effect on it at once; the commands are audited as the CLI\'s', async () => {
  const { config, tokens } = await login(bob.email, bob.password);
  expect(tokens.refresh_token).toBeTruthy();
  const [disabled, siem, rotated] = await Promise.all([
    cliJson<{ disabled: boolean; grantsRevoked: number; sessionsEnded: number }>(['user', 'disable', '--email', bob.email]),
    cliJson<ClientOut>(['client', 'create', '--name', 'SIEM', '--grant-type', 'client_credentials', '--allow-resource', `${issuer}/admin/api`, '--scope', 'admin:read']),
    cliJson<{ new: string[] }>(['keys', 'rotate']),
  ]);
  expect(disabled).toMatchObject({ disabled: true, grantsRevoked: 1, sessionsEnded: 1 });
  await expect(oidc.refreshTokenGrant(config, tokens.refresh_token!)).rejects.toMatchObject({ error: 'invalid_grant' });
  // Published now, not at the next key watch (VIGIL_KEY_REFRESH_SECONDS, 60 s).
  const published = ((await (await fetch(`${issuer}/jwks`)).json()) as { keys: Array<{ kid: string }> }).keys.map((k) => k.kid);
  expect(published).toEqual(expect.arrayContaining(rotated.new));

  // The audit trail, as the admin API shows it to a service client made a moment ago.
  const { access_token: bearer } = await oidc.clientCredentialsGrant(await discover(issuer, siem), { resource: `${issuer}/admin/api`, scope: 'admin:read' });
  const audit = await fetch(`${issuer}/admin/api/audit?actor=cli&limit=50`, { headers: { authorization: `Bearer ${bearer}` } });
  expect(audit.status).toBe(200);
  const { items } = await audit.json() as { items: Array<{ action: string; actor: string; subject?: string; outcome: string }> };
  const actions = items.map((e) => e.action).sort();
  expect(actions).toEqual(expect.arrayContaining(['account.created', 'account.created', 'client.created', 'client.created', 'registration_token.created', 'account.disabled', 'keys.rotated']));
  expect(items.filter((e) => e.action === 'client.created').map((e) => e.subject).sort()).toEqual([siem.client_id, web.client_id].sort());
  expect(items.every((e) => e.actor === 'cli' && e.outcome === 'success')).toBe(true);
  const trail = JSON.stringify(items);
  for (const secret of [PASSWORD, web.client_secret!, siem.client_secret!, registrationToken, bob.password]) expect(trail).not.toContain(secret);
});

test('garbage on the control channel gets a clear refusal, and the server carries on', async () => {
  const refusal = (answer: string) => JSON.parse(answer) as { exitCode: number; stdout: string; stderr: string };
  const [notJson, wrongShape, tooLarge, empty] = await Promise.all([
    sendRaw('GET / HTTP/1.1\r\nHost: x\r\n\r\n'),
    sendRaw(JSON.stringify({ argv: 'user list' })),
    sendRaw(Buffer.alloc(70 * 1024, 'a')),
    sendRaw(''),
  ]);
  expect(refusal(notJson)).toEqual({ exitCode: 2, stdout: '', stderr: expect.stringMatching(/^vigil: control channel: the request is not JSON/) });
  expect(refusal(wrongShape)).toEqual({ exitCode: 2, stdout: '', stderr: expect.stringMatching(/^vigil: control channel: the request is not \{"argv": \[strings\]\} \(argv: /) });
  expect(refusal(tooLarge)).toEqual({ exitCode: 2, stdout: '', stderr: 'vigil: control channel: the request is larger than 64 KiB\n' });
  expect(refusal(empty).exitCode).toBe(2);
  // A request that is well formed is answered as the CLI prints it.
  const listed = refusal(await sendRaw(JSON.stringify({ argv: ['user', 'list', '--json'] })));
  expect(listed.exitCode).toBe(0);
  expect((JSON.parse(listed.stdout) as Array<{ email: string }>).map((u) => u.email).sort()).toEqual(['ada@vigil.test', 'bob@vigil.test', 'root@vigil.test']);

  expect((await fetch(`${issuer}/healthz`)).status).toBe(200);
  throughServer = await Promise.all(SAME.map((args) => cli(args)));
  expect(throughServer.map((r) => r.code)).toEqual([0, 0, 0, 1, 2, 2, 2, 2, 2]);
  expect(throughServer[3].stderr).toBe('vigil: email: an account with ADA@vigil.test already exists\n');
  expect(throughServer[4].stderr).toBe('vigil: --email is required\n');
  expect(throughServer[8].stderr).toMatch(/^vigil: unknown command "frobnicate"\nusage: vigil/);
  expect(vigil!.output()).toContain('"command":"keys list","exitCode":0');
}, 180_000);

test('with the server stopped, the socket is gone and the CLI opens the database itself: the same output and exit codes', async () => {
  await vigil!.stop();
  vigil = undefined;
  expect(existsSync(socketPath)).toBe(false);
  expect(existsSync(join(dataDir, 'vigil.lock'))).toBe(false);
  // One at a time: without a server, each CLI run holds the embedded database for itself.
  const direct: RunResult[] = [];
  for (const args of SAME) direct.push(await cli(args));
  SAME.forEach((args, i) => expect({ args, ...direct[i] }).toEqual({ args, ...throughServer[i] }));
  const carol = await cliJson<{ email: string }>(['user', 'create', '--email', 'carol@vigil.test', '--password', PASSWORD]);
  expect(carol.email).toBe('carol@vigil.test');
}, 240_000);

test('a command run while the server is still starting waits for its control channel; two commands at once without a server both run', async () => {
  const lock = join(dataDir, 'vigil.lock');
  expect(existsSync(lock)).toBe(false);
  const starting = startVigil(env, { port: Number(new URL(issuer).port), timeoutMs: 90_000 });
  // The server holds the database from before its migrations until it stops; its channel opens later.
  while (!existsSync(lock)) await new Promise((r) => setTimeout(r, 5));
  expect(existsSync(socketPath)).toBe(false);
  const duringStart = await cli(['user', 'list', '--json']);
  vigil = await starting;
  expect({ code: duringStart.code, stderr: duringStart.stderr }).toEqual({ code: 0, stderr: '' });
  expect((JSON.parse(duringStart.stdout) as { email: string }[]).map((u) => u.email)).toContain('carol@vigil.test');

  await vigil.stop();
  vigil = undefined;
  const both = await Promise.all(['dan', 'erin'].map((name) => cli(['user', 'create', '--email', `${name}@vigil.test`, '--password', PASSWORD, '--json'])));
  expect(both.map((r) => ({ code: r.code, stderr: r.stderr }))).toEqual([{ code: 0, stderr: '' }, { code: 0, stderr: '' }]);
  expect(both.map((r) => (JSON.parse(r.stdout) as { email: string }).email)).toEqual(['dan@vigil.test', 'erin@vigil.test']);
}, 240_000);

test('no server on the socket: a stale one is passed over, one that is not this user\'s own gets nothing; a lock without a server is refused as before', async () => {
  const other = tempDir('vigil-control-stale-');
  try {
    const stale = join(other, 'control.sock');
    // A server killed before it could remove its socket.
    await new Promise<void>((resolve) => {
      const child = spawn(process.execPath, ['-e', `require('node:net').createServer().listen(${JSON.stringify(stale)}, () => process.kill(process.pid, 'SIGKILL'))`]);
      child.once('exit', () => resolve());
    });
    expect(statSync(stale).isSocket()).toBe(true);
    chmodSync(stale, 0o600);
    const staleEnv = { VIGIL_DATA_DIR: other };
    const passedOver = await cli(['user', 'list', '--json'], staleEnv);
    expect({ code: passedOver.code, stderr: passedOver.stderr }).toEqual({ code: 0, stderr: expect.stringContaining('created a new master key') });
    expect(JSON.parse(passedOver.stdout)).toEqual([]);

    chmodSync(stale, 0o666);
    const foreign = await cli(['user', 'list', '--json'], staleEnv);
    expect(foreign.code).toBe(1);
    expect(foreign.stdout).toBe('');
    expect(foreign.stderr).toBe(`vigil: VIGIL_DATA_DIR: ${stale} is not this user's own socket (owner uid ${process.getuid!()}, mode 666); the command was not sent\n`);
    rmSync(stale);

    // The lock held by a live process (this one) that serves no channel: a CLI, say.
    writeFileSync(join(other, 'vigil.lock'), String(process.pid));
    const locked = await cli(['user', 'list', '--json'], staleEnv);
    expect(locked.code).toBe(1);
    expect(locked.stderr).toMatch(new RegExp(`in use by process ${process.pid}; stop it first`));
  } finally {
    rmSync(other, { recursive: true, force: true });
  }
}, 120_000);

test('a data directory other users may write to gets no control channel (they could swap the socket for theirs), and the server says so', async () => {
  const open = tempDir('vigil-control-open-');
  try {
    mkdirSync(open, { recursive: true });
    chmodSync(open, 0o777);
    const port = await freePort();
    const server = await startVigil({ ...env, VIGIL_DATA_DIR: open, ISSUER: `http://127.0.0.1:${port}` }, { port, timeoutMs: 90_000 });
    try {
      expect(existsSync(join(open, 'control.sock'))).toBe(false);
      expect(server.output()).toMatch(/is writable by other users \(mode 777; chmod 700 it\)/);
    } finally {
      await server.stop();
    }
  } finally {
    rmSync(open, { recursive: true, force: true });
  }
}, 120_000);
