import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig, ConfigError } from '../../src/config/index.ts';

const cwd = mkdtempSync(join(tmpdir(), 'vigil-config-'));

test('nothing configured: embedded mode with the documented defaults', () => {
  const config = loadConfig({}, cwd);
  expect(config.storageMode).toBe('embedded');
  expect(config.PORT).toBe(3000);
  expect(config.ISSUER).toBe('http://localhost:3000');
  expect(config.dataDir).toBe(join(cwd, 'data'));
  expect(config.VIGIL_ACCESS_TOKEN_TTL).toBe(300);
  expect(config.VIGIL_METRICS_ALLOW).toEqual(['127.0.0.1/32', '::1/128']);
  expect(config.VIGIL_LOGIN_ACCOUNT_ATTACK_FAILURES).toBe(20);
  expect(config.VIGIL_SHUTDOWN_TIMEOUT_SECONDS).toBe(15);
  expect(config.VIGIL_HTTP_KEEP_ALIVE_SECONDS).toBe(5);
  expect(config.VIGIL_SCIM_REQUESTS_PER_MINUTE).toBe(600);
  expect(config.VIGIL_SCIM_GROUP_ROLES).toEqual({});
  expect(loadConfig({ VIGIL_SCIM_GROUP_ROLES: '{"Vigil Auditors": ["auditor"]}' }, cwd).VIGIL_SCIM_GROUP_ROLES).toEqual({ 'Vigil Auditors': ['auditor'] });
});

test('storage mode follows DATABASE_URL and REDIS_URL', () => {
  expect(loadConfig({ DATABASE_URL: 'postgres://h/db' }, cwd).storageMode).toBe('postgres');
  expect(loadConfig({ DATABASE_URL: 'postgres://h/db', REDIS_URL: 'redis://h:6379' }, cwd).storageMode).toBe('postgres+redis');
});

test.each([
  [{ PORT: 'abc' }, /PORT/],
  [{ PORT: '70000' }, /PORT/],
  [{ ISSUER: 'ftp://x' }, /ISSUER/],
  [{ ISSUER: 'https://idp.example.com/' }, /ISSUER: must not end with "\/"/],
  [{ DATABASE_URL: 'mysql://h/db' }, /DATABASE_URL/],
  [{ REDIS_URL: 'redis://h' }, /REDIS_URL: needs DATABASE_URL/],
  [{ VIGIL_MASTER_KEY: 'short' }, /VIGIL_MASTER_KEY: must be 32 random bytes/],
  [{ TRUST_PROXY: '10.0.0.0/33' }, /TRUST_PROXY/],
  [{ TRUST_PROXY: 'proxy.local' }, /TRUST_PROXY/],
  [{ VIGIL_ACCESS_TOKEN_TTL: '5' }, /VIGIL_ACCESS_TOKEN_TTL/],
  [{ VIGIL_ADMIN_PASSWORD: 'long enough password' }, /VIGIL_ADMIN_PASSWORD: given without VIGIL_ADMIN_EMAIL/],
  [{ VIGIL_ADMIN_EMAIL: 'not-an-email' }, /VIGIL_ADMIN_EMAIL/],
  [{ LOG_LEVEL: 'loud' }, /LOG_LEVEL/],
  [{ VIGIL_DB_UPKEEP: 'sometimes' }, /VIGIL_DB_UPKEEP/],
  [{ VIGIL_DB_UPKEEP_SECONDS: '0' }, /VIGIL_DB_UPKEEP_SECONDS/],
  [{ VIGIL_HEAP_GROWTH_PERCENT: '301' }, /VIGIL_HEAP_GROWTH_PERCENT/],
  [{ VIGIL_HEAP_GROWTH_PERCENT: 'lots' }, /VIGIL_HEAP_GROWTH_PERCENT/],
  [{ VIGIL_LOGIN_ACCOUNT_ATTACK_FAILURES: '0' }, /VIGIL_LOGIN_ACCOUNT_ATTACK_FAILURES/],
  [{ VIGIL_LOGIN_ACCOUNT_ATTACK_FAILURES: 'many' }, /VIGIL_LOGIN_ACCOUNT_ATTACK_FAILURES/],
  [{ VIGIL_SHUTDOWN_TIMEOUT_SECONDS: '0' }, /VIGIL_SHUTDOWN_TIMEOUT_SECONDS/],
  [{ VIGIL_SHUTDOWN_TIMEOUT_SECONDS: '601' }, /VIGIL_SHUTDOWN_TIMEOUT_SECONDS/],
  [{ VIGIL_SHUTDOWN_TIMEOUT_SECONDS: '2.5' }, /VIGIL_SHUTDOWN_TIMEOUT_SECONDS/],
  [{ VIGIL_HTTP_KEEP_ALIVE_SECONDS: '0' }, /VIGIL_HTTP_KEEP_ALIVE_SECONDS/],
  [{ VIGIL_HTTP_KEEP_ALIVE_SECONDS: 'forever' }, /VIGIL_HTTP_KEEP_ALIVE_SECONDS/],
  [{ NODE_ENV: 'production', ISSUER: 'http://idp.example.com' }, /ISSUER: must use https in production/],
  [{ VIGIL_ALLOWED_OUTGOING_HOSTS: 'http://x' }, /VIGIL_ALLOWED_OUTGOING_HOSTS/],
  [{ VIGIL_SMTP_URL: 'http://smtp.example.com', VIGIL_MAIL_FROM: 'a@b.example' }, /VIGIL_SMTP_URL: must be a URL with scheme smtp or smtps/],
  [{ VIGIL_SMTP_URL: 'smtp.example.com:587', VIGIL_MAIL_FROM: 'a@b.example' }, /VIGIL_SMTP_URL/],
  [{ VIGIL_SMTP_URL: 'smtp://smtp.example.com/inbox', VIGIL_MAIL_FROM: 'a@b.example' }, /VIGIL_SMTP_URL: must name a host, with no path/],
  [{ VIGIL_SMTP_URL: 'smtp://smtp.example.com?secure=false', VIGIL_MAIL_FROM: 'a@b.example' }, /VIGIL_SMTP_URL: must name a host, with no path, query/],
  [{ VIGIL_SMTP_URL: 'smtp://smtp.example.com' }, /VIGIL_MAIL_FROM: required with VIGIL_SMTP_URL/],
  [{ VIGIL_MAIL_FROM: 'vigil' }, /VIGIL_MAIL_FROM: must be an email address/],
  [{ VIGIL_MAIL_FROM: 'Vigil <vigil>' }, /VIGIL_MAIL_FROM/],
  [{ VIGIL_MAIL_FROM: 'a@b.example\r\nBcc: c@d.example' }, /VIGIL_MAIL_FROM/],
  [{ VIGIL_SMTP_ALLOW_PLAIN: 'perhaps' }, /VIGIL_SMTP_ALLOW_PLAIN/],
  [{ VIGIL_SCIM_REQUESTS_PER_MINUTE: '0' }, /VIGIL_SCIM_REQUESTS_PER_MINUTE/],
  [{ VIGIL_SCIM_GROUP_ROLES: 'Auditors=auditor' }, /VIGIL_SCIM_GROUP_ROLES: must be a JSON object/],
  [{ VIGIL_SCIM_GROUP_ROLES: '["auditor"]' }, /VIGIL_SCIM_GROUP_ROLES/],
  [{ VIGIL_SCIM_GROUP_ROLES: '{"Auditors": ["Auditor"]}' }, /VIGIL_SCIM_GROUP_ROLES.*roles are lower-case words/],
])('%o is refused with a message naming the setting', (env, message) => {
  expect(() => loadConfig(env as NodeJS.ProcessEnv, cwd)).toThrow(ConfigError);
  expect(() => loadConfig(env as NodeJS.ProcessEnv, cwd)).toThrow(message);
});

test('mail: the outbox unless VIGIL_SMTP_URL is set; a From alone or with a name', () => {
  const none = loadConfig({}, cwd);
  expect(none.VIGIL_SMTP_URL).toBeUndefined();
  expect(none.VIGIL_SMTP_ALLOW_PLAIN).toBe(false);
  const smtp = loadConfig({ VIGIL_SMTP_URL: 'smtps://user:p%40ss@smtp.example.com:465', VIGIL_MAIL_FROM: 'Vigil Identity <no-reply@idp.example.com>', VIGIL_SMTP_ALLOW_PLAIN: 'yes' }, cwd);
  expect(smtp.VIGIL_SMTP_URL).toBe('smtps://user:p%40ss@smtp.example.com:465');
  expect(smtp.VIGIL_MAIL_FROM).toBe('Vigil Identity <no-reply@idp.example.com>');
  expect(smtp.VIGIL_SMTP_ALLOW_PLAIN).toBe(true);
  expect(loadConfig({ VIGIL_SMTP_URL: 'smtp://[::1]:2525/', VIGIL_MAIL_FROM: 'no-reply@idp.example.com' }, cwd).VIGIL_MAIL_FROM).toBe('no-reply@idp.example.com');
});

test('config/vigil.json supplies settings; the environment wins; unknown keys are refused', () => {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-config-'));
  const file = join(dir, 'settings.json');
  writeFileSync(file, JSON.stringify({ PORT: 4000, VIGIL_ACCESS_TOKEN_TTL: 120 }));
  const config = loadConfig({ VIGIL_CONFIG_FILE: file, PORT: '5000' }, dir);
  expect(config.PORT).toBe(5000);
  expect(config.VIGIL_ACCESS_TOKEN_TTL).toBe(120);
  writeFileSync(file, JSON.stringify({ PROT: 4000 }));
  expect(() => loadConfig({ VIGIL_CONFIG_FILE: file }, dir)).toThrow(`${file}: unknown setting PROT`);
  writeFileSync(file, '{ not json');
  expect(() => loadConfig({ VIGIL_CONFIG_FILE: file }, dir)).toThrow(/not valid JSON/);
});
