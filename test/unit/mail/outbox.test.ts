import { mkdtempSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger } from '../../../src/observability/index.ts';
import { MailOutbox, OutboxMailer } from '../../../src/mail/index.ts';

const LINK = 'https://idp.example/invite?token=s3cr3t-T0KEN_abc&x=1';

function capture() {
  const lines: string[] = [];
  return { lines, logger: createLogger('info', { write: (line: string) => { lines.push(line); } }) };
}

test('each message is a 0600 file in a 0700 outbox, and the log says where but not what', async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'vigil-outbox-'));
  const { lines, logger } = capture();
  const mailer = new OutboxMailer(new MailOutbox(dataDir), 'Vigil <vigil@idp.example>', logger);
  const sent = await mailer.send({ to: 'ada@example.com', subject: 'Your invitation', text: `Open ${LINK}`, html: `<a href="${LINK}">Join</a>` });

  expect(sent.path).toBe(join(dataDir, 'outbox', `${sent.id}.json`));
  expect(statSync(sent.path!).mode & 0o777).toBe(0o600);
  expect(statSync(join(dataDir, 'outbox')).mode & 0o777).toBe(0o700);
  expect(readdirSync(join(dataDir, 'outbox'))).toEqual([`${sent.id}.json`]);
  expect(JSON.parse(readFileSync(sent.path!, 'utf8'))).toMatchObject({
    id: sent.id, from: 'Vigil <vigil@idp.example>', to: 'ada@example.com', subject: 'Your invitation', text: `Open ${LINK}`, html: `<a href="${LINK}">Join</a>`,
  });

  expect(lines).toHaveLength(1);
  expect(JSON.parse(lines[0]).msg).toBe(`mail written to ${sent.path}`);
  expect(lines[0]).not.toContain('s3cr3t');
  expect(lines[0]).not.toContain('Open');
});

test('list: oldest first, summaries only; read: the whole message; strangers and bad ids are ignored', async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'vigil-outbox-'));
  const outbox = new MailOutbox(dataDir);
  expect(await outbox.list()).toEqual([]);
  const second = await outbox.write('vigil@idp.example', { to: 'bob@example.com', subject: 'Second', text: LINK }, new Date('2026-12-06T10:00:00.002Z'));
  const first = await outbox.write('vigil@idp.example', { to: 'ada@example.com', subject: 'First', text: LINK }, new Date('2026-12-06T10:00:00.001Z'));
  writeFileSync(join(outbox.dir, 'notes.json'), '{}');
  writeFileSync(join(outbox.dir, '20261206T100000003Z-0123456789ab.json'), 'not json');

  expect(await outbox.list()).toEqual([
    { id: first.id, createdAt: '2026-12-06T10:00:00.001Z', to: 'ada@example.com', subject: 'First' },
    { id: second.id, createdAt: '2026-12-06T10:00:00.002Z', to: 'bob@example.com', subject: 'Second' },
  ]);
  expect(await outbox.read(first.id)).toMatchObject({ to: 'ada@example.com', text: LINK });
  expect(await outbox.read('../../etc/passwd')).toBeUndefined();
  expect(await outbox.read('20261206T100000009Z-0123456789ab')).toBeUndefined();
});

test('purge deletes the messages written before the cut-off and what crashed writes left, nothing else', async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'vigil-outbox-'));
  const outbox = new MailOutbox(dataDir);
  expect(await outbox.purge(new Date())).toBe(0);
  const old = await outbox.write('vigil@idp.example', { to: 'ada@example.com', subject: 'Old', text: LINK }, new Date('2026-11-01T10:00:00.000Z'));
  const recent = await outbox.write('vigil@idp.example', { to: 'bob@example.com', subject: 'Recent', text: LINK }, new Date('2026-12-05T10:00:00.000Z'));
  writeFileSync(join(outbox.dir, `.${old.id.replace('20261101', '20261102')}.partial`), '{');
  writeFileSync(join(outbox.dir, 'notes.json'), '{}');

  expect(await outbox.purge(new Date('2026-11-29T00:00:00.000Z'))).toBe(1);
  expect(readdirSync(outbox.dir).sort()).toEqual([`${recent.id}.json`, 'notes.json']);
  expect((await outbox.list()).map((m) => m.subject)).toEqual(['Recent']);
});
