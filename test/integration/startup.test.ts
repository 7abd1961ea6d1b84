import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { newMasterKey, ROOT, runScript, tempDir, type VigilProcess } from '../support/vigil-process.ts';
import { startStack, type Stack } from '../support/stack.ts';
import { freshDatabase } from '../support/services.ts';

/**
 * Start-up refuses bad settings and unreachable stores with one clear line naming the setting,
 * exit code 1 and no stack trace; a running instance answers health and readiness probes.
 */

const dir = tempDir('vigil-startup-');
const noStack = (text: string) => expect(text).not.toMatch(/^ {4}at /m);

/** Settings for runs that must fail before touching any store; the data dir is a throwaway. */
const base = { HOST: '127.0.0.1', PORT: '0', VIGIL_DATA_DIR: join(dir, 'data') };

async function refused(env: Record<string, string>) {
  const result = await runScript('src/main.ts', [], { ...base, ...env });
  expect(result.code).toBe(1);
  noStack(result.stderr);
  noStack(result.stdout);
  expect(result.stdout).not.toMatch(/Vigil is listening/);
  return result.stderr;
}

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('refuses to start', () => {
  test('PORT that is not a number', async () => {
    const stderr = await refused({ PORT: 'abc' });
    expect(stderr).toMatch(/^vigil: /);
    expect(stderr).toMatch(/PORT/);
  });

  test('ISSUER that is not an http(s) URL, or ends with a slash', async () => {
    expect(await refused({ ISSUER: 'not a url' })).toMatch(/ISSUER: must be a URL/);
    expect(await refused({ ISSUER: 'ftp://id.example.com' })).toMatch(/ISSUER/);
    expect(await refused({ ISSUER: 'https://id.example.com/' })).toMatch(/ISSUER: must not end with "\/"/);
  });

  test('TRUST_PROXY with a bad CIDR', async () => {
    expect(await refused({ TRUST_PROXY: '10.0.0.0/33' })).toMatch(/TRUST_PROXY.*CIDR/);
    expect(await refused({ TRUST_PROXY: '127.0.0.1, example.com' })).toMatch(/TRUST_PROXY/);
  });

  test('REDIS_URL without DATABASE_URL', async () => {
    const stderr = await refused({ REDIS_URL: 'redis://127.0.0.1:6379' });
    expect(stderr).toMatch(/REDIS_URL: needs DATABASE_URL/);
  });

  test('DATABASE_URL without VIGIL_MASTER_KEY', async () => {
    const stderr = await refused({ DATABASE_URL: 'postgres://postgres@127.0.0.1:5432/test' });
    expect(stderr).toMatch(/VIGIL_MASTER_KEY: required when DATABASE_URL is set/);
  });

  test('a VIGIL_MASTER_KEY that is not 32 bytes', async () => {
    const stderr = await refused({ DATABASE_URL: 'postgres://postgres@127.0.0.1:5432/test', VIGIL_MASTER_KEY: 'c2hvcnQ=' });
    expect(stderr).toMatch(/VIGIL_MASTER_KEY/);
    expect(stderr).not.toContain('c2hvcnQ=');
  });

  test('unreachable Postgres', async () => {
    const stderr = await refused({ DATABASE_URL: 'postgres://postgres:hunter2hunter2@127.0.0.1:1/x', VIGIL_MASTER_KEY: newMasterKey() });
    expect(stderr).toMatch(/DATABASE_URL: cannot reach Postgres at postgres:\/\/127\.0\.0\.1:1\/x/);
    // The password in the URL is not repeated.
    expect(stderr).not.toContain('hunter2');
    expect(stderr.trim().split('\n')).toHaveLength(1);
  });

  test('unreachable Redis', async () => {
    const stderr = await refused({ DATABASE_URL: 'postgres://postgres@127.0.0.1:5432/test', VIGIL_MASTER_KEY: newMasterKey(), REDIS_URL: 'redis://127.0.0.1:1' });
    expect(stderr).toMatch(/REDIS_URL: cannot reach Redis at redis:\/\/127\.0\.0\.1:1/);
    expect(stderr.trim().split('\n')).toHaveLength(1);
  });

  test('a config file with an unknown key, or that is not JSON', async () => {
    const unknown = join(dir, 'unknown.json');
    writeFileSync(unknown, JSON.stringify({ PORT: 3000, PROT: 3001 }));
    const stderr1 = await refused({ VIGIL_CONFIG_FILE: unknown });
    expect(stderr1).toContain(unknown);
    expect(stderr1).toMatch(/unknown setting PROT/);

    const broken = join(dir, 'broken.json');
    writeFileSync(broken, '{ "PORT": 3000, ');
    const stderr2 = await refused({ VIGIL_CONFIG_FILE: broken });
    expect(stderr2).toContain(broken);
    expect(stderr2).toMatch(/not valid JSON/);

    const array = join(dir, 'array.json');
    writeFileSync(array, '[]');
    expect(await refused({ VIGIL_CONFIG_FILE: array })).toContain(array);

    // A valid key with a bad value in the file is named too.
    const badValue = join(dir, 'bad-value.json');
    writeFileSync(badValue, JSON.stringify({ VIGIL_ACCESS_TOKEN_TTL: 5 }));
    expect(await refused({ VIGIL_CONFIG_FILE: badValue })).toMatch(/VIGIL_ACCESS_TOKEN_TTL/);
  });
});

describe('refuses to start on a bad risk policy or network list, naming the setting', () => {
  // The files are read once the stores are open: a database of its own (migrated by the first run).
  let db: Awaited<ReturnType<typeof freshDatabase>>;
  let stores: Record<string, string>;

  beforeAll(async () => {
    db = await freshDatabase();
    stores = { DATABASE_URL: db.url, VIGIL_MASTER_KEY: newMasterKey() };
  });

  afterAll(() => db?.drop());

  test('VIGIL_RISK_POLICY with an unknown signal name', async () => {
    const policy = JSON.parse(readFileSync(join(ROOT, 'config/risk-policy.json'), 'utf8'));
    policy.refresh.signals.teleportation = { action: 'revoke' };
    const path = join(dir, 'risk-policy-unknown-signal.json');
    writeFileSync(path, JSON.stringify(policy));
    const stderr = await refused({ ...stores, VIGIL_RISK_POLICY: path });
    expect(stderr).toMatch(/^vigil: VIGIL_RISK_POLICY: /);
    expect(stderr).toContain(path);
    expect(stderr).toMatch(/refresh\.signals\.teleportation/);
    expect(stderr).toMatch(/unknown signal name/);
  });

  test('VIGIL_NETWORK_LISTS with a file holding a line that is not an address or range: its line number', async () => {
    const path = join(dir, 'vpn-exits.txt');
    writeFileSync(path, '# VPN exits\n198.51.100.0/24\n\n203.0.113.7 # one more\n10.0.0.0/33\n');
    const stderr = await refused({ ...stores, VIGIL_NETWORK_LISTS: `anonymizer=${path}` });
    expect(stderr).toMatch(/^vigil: VIGIL_NETWORK_LISTS: /);
    expect(stderr).toContain(`${path} line 5`);
    expect(stderr).toContain('10.0.0.0/33');
  });

  test('branding: an unreadable accent colour, a logo that is not an image; nothing is created', async () => {
    // The embedded default: a start that went too far would create its data directory.
    const embedded = { VIGIL_DATA_DIR: join(dir, 'branded-data') };
    const colour = await refused({ ...embedded, VIGIL_BRAND_ACCENT_DARK: '#1f5fbf' });
    expect(colour).toMatch(/VIGIL_BRAND_ACCENT_DARK: unreadable in dark mode: .* WCAG AA needs 4\.5:1/);
    const path = join(dir, 'logo.gif');
    writeFileSync(path, 'GIF89a');
    const logo = await refused({ ...embedded, VIGIL_BRAND_LOGO: path });
    expect(logo).toBe(`vigil: VIGIL_BRAND_LOGO: ${path} is neither a PNG nor an SVG image\n`);
    const language = await refused({ ...embedded, VIGIL_DEFAULT_LANGUAGE: 'fr' });
    expect(language).toBe('vigil: VIGIL_DEFAULT_LANGUAGE: fr has no catalogue in locales/ (there: de, en)\n');
    expect(existsSync(embedded.VIGIL_DATA_DIR)).toBe(false);
  });

  test('VIGIL_NETWORK_LISTS with an entry that is not tag=path', async () => {
    const stderr = await refused({ ...stores, VIGIL_NETWORK_LISTS: join(dir, 'vpn-exits.txt') });
    expect(stderr).toMatch(/^vigil: /);
    expect(stderr).toMatch(/VIGIL_NETWORK_LISTS.*tag=path/);
  });

  test('VIGIL_SSF_TRANSMITTERS: a missing file, a file that is not JSON, a transmitter without keys, a private key', async () => {
    const missing = join(dir, 'no-such-transmitters.json');
    let stderr = await refused({ ...stores, VIGIL_SSF_TRANSMITTERS: missing });
    expect(stderr).toMatch(/^vigil: VIGIL_SSF_TRANSMITTERS: /);
    expect(stderr).toContain(`${missing}: cannot read it`);

    const notJson = join(dir, 'transmitters-not-json.json');
    writeFileSync(notJson, '{ transmitters: [');
    stderr = await refused({ ...stores, VIGIL_SSF_TRANSMITTERS: notJson });
    expect(stderr).toMatch(new RegExp(`^vigil: VIGIL_SSF_TRANSMITTERS: ${notJson}: not valid JSON`));

    const noKeys = join(dir, 'transmitters-no-keys.json');
    writeFileSync(noKeys, JSON.stringify({ transmitters: [{ issuer: 'https://idp.example' }] }));
    stderr = await refused({ ...stores, VIGIL_SSF_TRANSMITTERS: noKeys });
    expect(stderr).toMatch(/^vigil: VIGIL_SSF_TRANSMITTERS: /);
    expect(stderr).toContain(noKeys);
    expect(stderr).toMatch(/transmitters\.0: needs exactly one of jwks_uri and jwks/);

    const privateKey = join(dir, 'transmitters-private.json');
    writeFileSync(privateKey, JSON.stringify({ transmitters: [{ issuer: 'https://idp.example', jwks: { keys: [{ kty: 'EC', crv: 'P-256', x: 'x', y: 'y', d: 'secret' }] } }] }));
    stderr = await refused({ ...stores, VIGIL_SSF_TRANSMITTERS: privateKey });
    expect(stderr).toMatch(/VIGIL_SSF_TRANSMITTERS: .*transmitters\.0\.jwks\.keys\.0: must be a public key/);
    expect(stderr).not.toContain('secret');
  });
});

describe('a running instance', () => {
  const METRICS_TOKEN = 'a metrics token of some length';
  let stack: Stack;
  let vigil: VigilProcess;

  beforeAll(async () => {
    stack = await startStack({ VIGIL_METRICS_ALLOW: '10.0.0.0/8', VIGIL_METRICS_TOKEN: METRICS_TOKEN });
    vigil = stack.vigil;
  }, 30_000);

  afterAll(() => stack?.stop());

  test('/healthz and /readyz', async () => {
    const health = await fetch(`${vigil.url}/healthz`);
    expect(health.status).toBe(200);
    expect(health.headers.get('cache-control')).toBe('no-store');
    expect(await health.json()).toEqual({ status: 'ok' });
    const ready = await fetch(`${vigil.url}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({ status: 'ready', checks: { postgres: 'ok', redis: 'ok' } });
  });

  test('/metrics: refused outside VIGIL_METRICS_ALLOW, allowed with the bearer token', async () => {
    const refusedRes = await fetch(`${vigil.url}/metrics`);
    expect(refusedRes.status).toBe(403);
    expect((await refusedRes.json()).error).toBe('forbidden');
    const wrong = await fetch(`${vigil.url}/metrics`, { headers: { authorization: 'Bearer not the metrics token' } });
    expect(wrong.status).toBe(403);
    // X-Forwarded-For does not count without TRUST_PROXY.
    const spoofed = await fetch(`${vigil.url}/metrics`, { headers: { 'x-forwarded-for': '10.1.2.3' } });
    expect(spoofed.status).toBe(403);
    const allowed = await fetch(`${vigil.url}/metrics`, { headers: { authorization: `Bearer ${METRICS_TOKEN}` } });
    expect(allowed.status).toBe(200);
    expect(allowed.headers.get('content-type')).toMatch(/^text\/plain/);
    expect(await allowed.text()).toMatch(/vigil_http_requests_total/);
    await new Promise((r) => setTimeout(r, 100));
    expect(vigil.output()).not.toContain(METRICS_TOKEN);
  });

  test('a second instance on the same port is refused with PORT named', async () => {
    const port = new URL(vigil.url).port;
    const result = await runScript('src/main.ts', [], { ...vigil.env, PORT: port });
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/PORT: 127\.0\.0\.1:\d+ is already in use/);
    noStack(result.stderr);
  });
});
