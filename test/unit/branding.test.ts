/** Branding settings: the name, the accent colours (refused when unreadable) and the logo file, checked at start-up. */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { deflateSync } from 'node:zlib';
import { ConfigError, contrastRatio, loadConfig } from '../../src/config/index.ts';
import { loadBrand, MAX_LOGO_BYTES } from '../../src/branding/index.ts';

const cwd = mkdtempSync(join(tmpdir(), 'vigil-brand-'));

/** A real 1×1 PNG. */
function png(): Buffer {
  const chunk = (type: string, data: Buffer) => {
    const length = Buffer.alloc(4);
    length.writeUInt32BE(data.length);
    return Buffer.concat([length, Buffer.from(type), data, Buffer.alloc(4)]);
  };
  const header = Buffer.from([0, 0, 0, 1, 0, 0, 0, 1, 8, 2, 0, 0, 0]);
  return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), chunk('IHDR', header), chunk('IDAT', deflateSync(Buffer.from([0, 255, 0, 0]))), chunk('IEND', Buffer.alloc(0))]);
}

const file = (name: string, body: string | Buffer) => {
  writeFileSync(join(cwd, name), body);
  return name;
};

test('nothing set: "Vigil", no logo, no colour overrides', () => {
  const config = loadConfig({}, cwd);
  const brand = loadBrand(config, cwd);
  expect(brand.name).toBe('Vigil');
  expect(brand.logo).toBeUndefined();
  expect(brand.css).not.toMatch(/--accent/);
});

test('a name, readable colours and an SVG logo', () => {
  const config = loadConfig({
    VIGIL_BRAND_NAME: '  Acme ID ', VIGIL_BRAND_ACCENT: '#6A1B9A', VIGIL_BRAND_ACCENT_DARK: '#ce93d8',
    VIGIL_BRAND_LOGO: file('logo.svg', '<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 10 10"><rect width="10" height="10" fill="#6a1b9a"/></svg>'),
  }, cwd);
  const brand = loadBrand(config, cwd);
  expect(brand.name).toBe('Acme ID');
  expect(brand.logo).toMatchObject({ url: '/assets/logo.svg', type: 'image/svg+xml' });
  expect(brand.css).toContain(':root { --accent: #6a1b9a;');
  expect(brand.css).toMatch(/@media \(prefers-color-scheme: dark\) \{ :root \{ --accent: #ce93d8;/);
});

test('a PNG logo is served as one', () => {
  expect(loadBrand(loadConfig({ VIGIL_BRAND_LOGO: file('logo.png', png()) }, cwd), cwd).logo).toMatchObject({ url: '/assets/logo.png', type: 'image/png' });
});

test.each([
  [{ VIGIL_BRAND_ACCENT: '#8ab4f8' }, /VIGIL_BRAND_ACCENT: unreadable in light mode: button text #ffffff on #8ab4f8 has a contrast of 2\.\d\d:1; WCAG AA needs 4\.5:1/],
  [{ VIGIL_BRAND_ACCENT_DARK: '#1f5fbf' }, /VIGIL_BRAND_ACCENT_DARK: unreadable in dark mode: .*WCAG AA needs 4\.5:1/],
  [{ VIGIL_BRAND_ACCENT: 'purple' }, /VIGIL_BRAND_ACCENT: must be a colour as #rrggbb/],
  [{ VIGIL_BRAND_ACCENT: '#12345' }, /VIGIL_BRAND_ACCENT: must be a colour as #rrggbb/],
  [{ VIGIL_BRAND_NAME: 'Acme <b>ID</b>' }, /VIGIL_BRAND_NAME: must be plain text/],
  [{ VIGIL_BRAND_NAME: 'Acme\nID' }, /VIGIL_BRAND_NAME: must be plain text/],
  [{ VIGIL_BRAND_NAME: 'x'.repeat(61) }, /VIGIL_BRAND_NAME/],
])('%j is refused at start-up, naming the setting', (env, message) => {
  expect(() => loadConfig(env as NodeJS.ProcessEnv, cwd)).toThrow(ConfigError);
  expect(() => loadConfig(env as NodeJS.ProcessEnv, cwd)).toThrow(message);
});

test('the shipped colours pass the same check (what a refused colour is measured against)', () => {
  expect(contrastRatio('#1f5fbf', '#ffffff')).toBeGreaterThanOrEqual(4.5);
  expect(contrastRatio('#8ab4f8', '#0d1b2e')).toBeGreaterThanOrEqual(4.5);
  expect(contrastRatio('#8ab4f8', '#1f242b')).toBeGreaterThanOrEqual(4.5);
});

test.each([
  ['missing.svg', undefined, /VIGIL_BRAND_LOGO: .*missing\.svg cannot be read \(ENOENT\)/],
  ['logo.gif', Buffer.from('GIF89a\x01\x00\x01\x00'), /VIGIL_BRAND_LOGO: .*logo\.gif is neither a PNG nor an SVG image/],
  ['page.svg', '<html><body>not an svg</body></html>', /is neither a PNG nor an SVG image/],
  ['script.svg', '<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>', /holds scripts, event handlers or entities/],
  ['onload.svg', '<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"></svg>', /holds scripts, event handlers or entities/],
  ['huge.png', Buffer.concat([png(), Buffer.alloc(MAX_LOGO_BYTES)]), /is \d+ bytes; a logo may be at most 262144 bytes/],
  ['empty.svg', '', /is empty/],
])('a logo %s is refused at start-up, naming VIGIL_BRAND_LOGO', (name, body, message) => {
  if (body !== undefined) file(name, body);
  const config = loadConfig({ VIGIL_BRAND_LOGO: name }, cwd);
  expect(() => loadBrand(config, cwd)).toThrow(ConfigError);
  expect(() => loadBrand(config, cwd)).toThrow(message);
});
