import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { MailOutbox, type StoredMail } from '../../src/mail/index.ts';
import { newMasterKey, runScript, startVigil, tempDir, type VigilProcess } from '../support/vigil-process.ts';

/**
 * The embedded default without SMTP: mail waits in VIGIL_DATA_DIR/outbox, the server's log says
 * where, and `vigil mail list` / `mail show` read it, with the server running or not.
 */

const LINK = 'https://idp.example/invite?token=s3cr3t-T0KEN_abc&x=1';
const cli = (env: Record<string, string>, args: string[]) => runScript('src/cli.ts', args, env, 120_000);

let dataDir: string;
let env: Record<string, string>;
let first: StoredMail;
let second: StoredMail;
let vigil: VigilProcess | undefined;

beforeAll(async () => {
  dataDir = tempDir('vigil-mail-cli-');
  env = { VIGIL_DATA_DIR: dataDir, VIGIL_MASTER_KEY: newMasterKey(), LOG_LEVEL: 'warn' };
  const outbox = new MailOutbox(dataDir);
  first = await outbox.write('Vigil <vigil@127.0.0.1>', { to: 'ada@example.com', subject: 'Your invitation', text: `Open ${LINK}\n` }, new Date('2026-12-06T10:00:00.000Z'));
  second = await outbox.write('Vigil <vigil@127.0.0.1>', { to: 'bob@example.com', subject: 'Reset your password', text: 'Another body' }, new Date('2026-12-06T11:00:00.000Z'));
});

afterAll(async () => {
  await vigil?.stop();
});

test('a bad VIGIL_SMTP_URL stops the start naming the setting, before anything is created', async () => {
  const empty = tempDir('vigil-mail-bad-');
  const result = await runScript('src/main.ts', [], {
    VIGIL_DATA_DIR: empty, VIGIL_SMTP_URL: 'http://mailer:hunter2@smtp.example.com', VIGIL_MAIL_FROM: 'no-reply@idp.example',
  });
  expect(result.code).toBe(1);
  expect(result.stderr).toMatch(/^vigil: invalid configuration:\n {2}VIGIL_SMTP_URL: must be a URL with scheme smtp or smtps/);
  expect(result.stderr + result.stdout).not.toContain('hunter2');
  expect(readdirSync(empty)).toEqual([]);

  const noFrom = await runScript('src/main.ts', [], { VIGIL_DATA_DIR: empty, VIGIL_SMTP_URL: 'smtp://smtp.example.com' });
  expect(noFrom.code).toBe(1);
  expect(noFrom.stderr).toContain('vigil: VIGIL_MAIL_FROM: required with VIGIL_SMTP_URL');
});

test('vigil mail list: time, recipient, subject and id of each message, never its body', async () => {
  const json = await cli(env, ['mail', 'list', '--json']);
  expect(json.stderr).toBe('');
  expect(json.code).toBe(0);
  expect(JSON.parse(json.stdout)).toEqual([
    { id: first.id, createdAt: '2026-12-06T10:00:00.000Z', to: 'ada@example.com', subject: 'Your invitation' },
    { id: second.id, createdAt: '2026-12-06T11:00:00.000Z', to: 'bob@example.com', subject: 'Reset your password' },
  ]);
  const text = await cli(env, ['mail', 'list']);
  expect(text.code).toBe(0);
  expect(text.stdout).toBe(`2026-12-06T10:00:00.000Z\tada@example.com\tYour invitation\t${first.id}\n2026-12-06T11:00:00.000Z\tbob@example.com\tReset your password\t${second.id}\n`);
  expect(text.stdout).not.toContain('s3cr3t');
});

test('vigil mail show --id: the whole message, its link intact; an unknown id is a usage error', async () => {
  const shown = await cli(env, ['mail', 'show', '--id', first.id]);
  expect(shown.code).toBe(0);
  expect(shown.stdout).toBe(`Date: 2026-12-06T10:00:00.000Z\nFrom: Vigil <vigil@127.0.0.1>\nTo: ada@example.com\nSubject: Your invitation\n\nOpen ${LINK}\n\n`);
  const unknown = await cli(env, ['mail', 'show', '--id', '../master.key']);
  expect(unknown.code).toBe(2);
  expect(unknown.stderr).toBe(`vigil: no mail with id ../master.key in ${join(dataDir, 'outbox')}\n`);
});

test('the running server says where mail goes, and carries out mail list for the CLI', async () => {
  vigil = await startVigil({ ...env, LOG_LEVEL: 'info' });
  expect(vigil.output()).toContain(`no VIGIL_SMTP_URL: mail is written to ${join(dataDir, 'outbox')} (vigil mail list shows it)`);
  const listed = await cli(env, ['mail', 'list', '--json']);
  expect(listed.code).toBe(0);
  expect(JSON.parse(listed.stdout).map((m: { id: string }) => m.id)).toEqual([first.id, second.id]);
  // Through the control channel: the server ran it.
  expect(vigil.output()).toContain('"command":"mail list"');
});
