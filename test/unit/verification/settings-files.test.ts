/** The policy files the continuous check reads: the risk policy, the operator's CIDR lists, and all of them together. */
import { chmodSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, loadConfig } from '../../../src/config/index.ts';
import { DEFAULT_POLICY } from '../../../src/risk/index.ts';
import { DEFAULT_RISK_POLICY_PATH, loadNetworkLists, loadPolicyFiles, loadRiskPolicy } from '../../../src/verification/index.ts';

const dir = mkdtempSync(join(tmpdir(), 'vigil-verification-'));
let counter = 0;
/** Writes `text` to a new file in the temp directory and returns its path. */
function file(text: string, name = `f${++counter}.txt`): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

/** The thrown error, asserting that something was thrown. */
function thrown(fn: () => unknown): Error {
  try {
    fn();
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected a throw');
}

const shipped = JSON.parse(readFileSync(DEFAULT_RISK_POLICY_PATH, 'utf8')) as {
  login: { signals: Record<string, unknown> }; levels: { medium: number; high: number };
};

describe('loadRiskPolicy', () => {
  test('the shipped file (default path) loads and matches DEFAULT_POLICY\'s levels', () => {
    expect(DEFAULT_RISK_POLICY_PATH).toMatch(/config[\\/]risk-policy\.json$/);
    const policy = loadRiskPolicy();
    expect(policy.levels).toEqual(shipped.levels);
    expect(policy.levels).toEqual(DEFAULT_POLICY.levels);
    expect(policy.defaults.login.thresholds.length).toBeGreaterThan(0);
    expect(policy.clients).toBeInstanceOf(Map);
  });

  test('an explicit path to a valid copy loads', () => {
    const path = file(JSON.stringify(shipped), 'copy.json');
    expect(loadRiskPolicy(path).levels).toEqual(shipped.levels);
  });

  const unknownSignal = () => {
    const doc = structuredClone(shipped);
    doc.login.signals.impossible_travle = { action: 'deny' };
    return JSON.stringify(doc);
  };

  test.each<[string, () => string, RegExp]>([
    ['a missing file', () => join(dir, 'does-not-exist.json'), /^VIGIL_RISK_POLICY: cannot read .*does-not-exist\.json: ENOENT/],
    ['a directory', () => dir, /^VIGIL_RISK_POLICY: cannot read /],
    ['invalid JSON', () => file('{ "version": 1,', 'bad.json'), /^VIGIL_RISK_POLICY: .*bad\.json: risk policy: not valid JSON/],
    ['an empty file', () => file('', 'empty.json'), /^VIGIL_RISK_POLICY: .*empty\.json: risk policy: not valid JSON/],
    ['an unknown signal', () => file(unknownSignal(), 'signal.json'), /^VIGIL_RISK_POLICY: .*signal\.json: risk policy: login\.signals\.impossible_travle: .*unknown signal name/],
    ['a JSON array', () => file('[]', 'array.json'), /^VIGIL_RISK_POLICY: .*array\.json: risk policy: /],
  ])('%s: ConfigError naming VIGIL_RISK_POLICY and the file', (_name, pathOf, message) => {
    const path = pathOf();
    const err = thrown(() => loadRiskPolicy(path));
    expect(err).toBeInstanceOf(ConfigError);
    expect(err.message).toMatch(message);
    expect(err.message).toContain(path);
  });
});

describe('loadNetworkLists', () => {
  const v4 = file([
    '# anonymisers, one per line',
    '',
    '203.0.113.0/24   # a whole /24',
    '   198.51.100.7   ',
    '\t',
    '192.0.2.128/25',
    '# 8.8.8.8 is commented out',
    '10.0.0.0/8#no space before the comment',
  ].join('\n'));
  const v6 = file('2001:db8:abcd::/48\r\n# crlf line endings\r\n\r\n2001:db8::1\r\n::ffff:100.64.0.1\r\n');
  const corp = file('203.0.113.128/25\n');
  const empty = file('# nothing yet\n\n');

  const lists = loadNetworkLists([`anonymizer=${v4}`, `anonymizer=${v6}`, `corporate=${corp}`, `empty=${empty}`]);

  test('sizes count the entries of each tag (comments and blank lines excluded; a tag given twice adds up)', () => {
    expect(lists.sizes).toEqual({ anonymizer: 7, corporate: 1, empty: 0 });
  });

  test.each<[string, string[]]>([
    ['203.0.113.5', ['anonymizer']],
    ['203.0.113.200', ['anonymizer', 'corporate']],
    ['203.0.114.1', []],
    ['198.51.100.7', ['anonymizer']],
    ['198.51.100.8', []],
    ['192.0.2.128', ['anonymizer']],
    ['192.0.2.127', []],
    ['192.0.2.255', ['anonymizer']],
    ['10.200.3.4', ['anonymizer']],
    ['11.0.0.1', []],
    ['8.8.8.8', []],
    ['::ffff:203.0.113.5', ['anonymizer']],
    ['2001:db8:abcd:1234::99', ['anonymizer']],
    ['2001:db8:abce::1', []],
    ['2001:db8::1', ['anonymizer']],
    ['2001:db8::2', []],
    ['100.64.0.1', ['anonymizer']],
    ['100.64.0.2', []],
    ['not-an-ip', []],
    ['', []],
  ])('tags(%s) = %j', (ip, tags) => {
    expect(lists.tags(ip)).toEqual(tags);
  });

  test('no lists: no tags, no sizes', () => {
    const none = loadNetworkLists([]);
    expect(none.sizes).toEqual({});
    expect(none.tags('203.0.113.5')).toEqual([]);
  });

  test('a path holding "=" is read whole (only the first "=" separates the tag)', () => {
    const path = file('192.0.2.1\n', 'a=b.txt');
    expect(loadNetworkLists([`odd=${path}`]).tags('192.0.2.1')).toEqual(['odd']);
  });

  test.each<[string, string, number]>([
    ['a host name', '192.0.2.1\nvpn.example.com\n', 2],
    ['a prefix too long for IPv4', '# header\n\n192.0.2.0/33\n', 3],
    ['a prefix too long for IPv6', '2001:db8::/129\n', 1],
    ['an address out of range', '192.0.2.1\n192.0.2.300\n', 2],
    ['two slashes', '\n\n\n192.0.2.0/24/8\n', 4],
    ['a non-numeric prefix', '192.0.2.0/abc', 1],
    ['two addresses on a line', '192.0.2.1 192.0.2.2\n', 1],
    ['a range with a dash', '192.0.2.1-192.0.2.9\n', 1],
    ['CRLF lines, bad third line', '192.0.2.1\r\n# ok\r\nnope\r\n', 3],
  ])('%s: ConfigError naming VIGIL_NETWORK_LISTS, the path and the line', (_name, text, line) => {
    const path = file(text);
    const err = thrown(() => loadNetworkLists([`good=${corp}`, `bad=${path}`]));
    expect(err).toBeInstanceOf(ConfigError);
    expect(err.message).toMatch(/^VIGIL_NETWORK_LISTS: /);
    expect(err.message).toContain(`${path} line ${line}:`);
  });

  test('a missing file: ConfigError naming the setting, the tag and the path', () => {
    const path = join(dir, 'missing.txt');
    const err = thrown(() => loadNetworkLists([`known_bad=${path}`]));
    expect(err).toBeInstanceOf(ConfigError);
    expect(err.message).toMatch(/^VIGIL_NETWORK_LISTS: cannot read the "known_bad" list .*missing\.txt: ENOENT/);
  });

  const root = process.getuid?.() === 0;
  (root ? test.skip : test)('an unreadable file (mode 000): ConfigError naming the setting and the path', () => {
    const path = file('192.0.2.1\n', 'secret.txt');
    chmodSync(path, 0o000);
    try {
      const err = thrown(() => loadNetworkLists([`corporate=${path}`]));
      expect(err).toBeInstanceOf(ConfigError);
      expect(err.message).toMatch(/^VIGIL_NETWORK_LISTS: cannot read the "corporate" list .*secret\.txt: EACCES/);
    } finally {
      chmodSync(path, 0o600);
    }
  });

  test('a path through a regular file (ENOTDIR; unreadable even for root): ConfigError naming the setting, the tag and the path', () => {
    const path = join(file('192.0.2.1\n', 'not-a-dir.txt'), 'list.txt');
    const err = thrown(() => loadNetworkLists([`corporate=${path}`]));
    expect(err).toBeInstanceOf(ConfigError);
    expect(err.message).toContain(`VIGIL_NETWORK_LISTS: cannot read the "corporate" list ${path}: ENOTDIR`);
  });

  test('a directory as a list: ConfigError naming the setting', () => {
    const err = thrown(() => loadNetworkLists([`corporate=${dir}`]));
    expect(err).toBeInstanceOf(ConfigError);
    expect(err.message).toMatch(/^VIGIL_NETWORK_LISTS: cannot read the "corporate" list /);
  });
});

describe('loadPolicyFiles', () => {
  const cwd = mkdtempSync(join(tmpdir(), 'vigil-verification-config-'));
  const list = file('203.0.113.0/24\n2001:db8::/32\n');

  test('defaults: the shipped risk and posture policies, no lists', () => {
    const files = loadPolicyFiles(loadConfig({}, cwd));
    expect(files.risk.levels).toEqual(shipped.levels);
    expect(files.posture.freshnessSeconds).toBeGreaterThan(0);
    expect(files.networkListSizes).toEqual({});
    expect(files.networkTags('203.0.113.9')).toEqual([]);
    expect(files.elevation.roles.size).toBe(0);
    expect(files.elevation.breakGlass.size).toBe(0);
  });

  test('configured files are all read', () => {
    const risk = structuredClone(shipped);
    risk.levels = { medium: 25, high: 55 };
    const posture = JSON.parse(readFileSync(join(import.meta.dirname, '../../../config/posture-policy.json'), 'utf8')) as { freshnessSeconds: number };
    posture.freshnessSeconds = 3600;
    const config = loadConfig({
      VIGIL_RISK_POLICY: file(JSON.stringify(risk), 'risk.json'),
      VIGIL_POSTURE_POLICY: file(JSON.stringify(posture), 'posture.json'),
      VIGIL_NETWORK_LISTS: `anonymizer=${list}`,
    }, cwd);
    const files = loadPolicyFiles(config);
    expect(files.risk.levels).toEqual({ medium: 25, high: 55 });
    expect(files.posture.freshnessSeconds).toBe(3600);
    expect(files.networkListSizes).toEqual({ anonymizer: 2 });
    expect(files.networkTags('203.0.113.9')).toEqual(['anonymizer']);
    expect(files.networkTags('2001:db8:1::1')).toEqual(['anonymizer']);
    expect(files.networkTags('198.51.100.1')).toEqual([]);
  });

  test.each<[string, () => NodeJS.ProcessEnv, RegExp]>([
    ['a bad posture policy', () => ({ VIGIL_POSTURE_POLICY: file('{ nope', 'bad-posture.json') }), /^VIGIL_POSTURE_POLICY: .*not valid JSON/],
    ['a missing posture policy', () => ({ VIGIL_POSTURE_POLICY: join(dir, 'no-posture.json') }), /^VIGIL_POSTURE_POLICY: cannot read/],
    ['a bad risk policy', () => ({ VIGIL_RISK_POLICY: file('{ nope', 'bad-risk.json') }), /^VIGIL_RISK_POLICY: /],
    ['a bad list', () => ({ VIGIL_NETWORK_LISTS: `anonymizer=${file('x\n')}` }), /^VIGIL_NETWORK_LISTS: .* line 1:/],
    ['a bad elevation file', () => ({ VIGIL_ELEVATION_FILE: file('{"roles":{"ops":{"max_minutes":-1}}}', 'bad-elevation.json') }), /^VIGIL_ELEVATION_FILE: .*bad-elevation\.json: roles\.ops\.max_minutes/],
    ['a missing elevation file', () => ({ VIGIL_ELEVATION_FILE: join(dir, 'no-elevation.json') }), /^VIGIL_ELEVATION_FILE: cannot read/],
  ])('%s: ConfigError naming its setting', (_name, env, message) => {
    const config = loadConfig(env(), cwd);
    const err = thrown(() => loadPolicyFiles(config));
    expect(err).toBeInstanceOf(ConfigError);
    expect(err.message).toMatch(message);
  });
});
