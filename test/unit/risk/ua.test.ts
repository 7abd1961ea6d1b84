import { agentChanged, describeUserAgent, parseUserAgent, type ParsedUserAgent } from '../../../src/risk/index.ts';

describe('parseUserAgent', () => {
  test.each<[string, string, ParsedUserAgent]>([
    ['Chrome on Windows', 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36',
      { browser: 'Chrome', browserMajor: 126, os: 'Windows', osMajor: 10, deviceType: 'desktop' }],
    ['Edge on Windows', 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36 Edg/126.0.2592.87',
      { browser: 'Edge', browserMajor: 126, os: 'Windows', osMajor: 10, deviceType: 'desktop' }],
    ['Firefox on Linux', 'Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0',
      { browser: 'Firefox', browserMajor: 128, os: 'Linux', deviceType: 'desktop' }],
    ['Safari on macOS', 'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4.1 Safari/605.1.15',
      { browser: 'Safari', browserMajor: 17, os: 'macOS', osMajor: 10, deviceType: 'desktop' }],
    ['Safari on iPhone', 'Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1',
      { browser: 'Safari', browserMajor: 17, os: 'iOS', osMajor: 17, deviceType: 'mobile' }],
    ['Chrome on iPhone', 'Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) CriOS/126.0.6478.54 Mobile/15E148 Safari/604.1',
      { browser: 'Chrome', browserMajor: 126, os: 'iOS', osMajor: 17, deviceType: 'mobile' }],
    ['iPad', 'Mozilla/5.0 (iPad; CPU OS 16_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/16.6 Mobile/15E148 Safari/604.1',
      { browser: 'Safari', browserMajor: 16, os: 'iOS', osMajor: 16, deviceType: 'tablet' }],
    ['in-app web view on iPhone', 'Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148',
      { browser: 'Safari', os: 'iOS', osMajor: 17, deviceType: 'mobile' }],
    ['Chrome on Android phone', 'Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.6478.122 Mobile Safari/537.36',
      { browser: 'Chrome', browserMajor: 126, os: 'Android', osMajor: 14, deviceType: 'mobile' }],
    ['Chrome on Android tablet', 'Mozilla/5.0 (Linux; Android 13; SM-X700) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36',
      { browser: 'Chrome', browserMajor: 126, os: 'Android', osMajor: 13, deviceType: 'tablet' }],
    ['Samsung Internet', 'Mozilla/5.0 (Linux; Android 14; SM-S921B) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/25.0 Chrome/121.0.0.0 Mobile Safari/537.36',
      { browser: 'Samsung Internet', browserMajor: 25, os: 'Android', osMajor: 14, deviceType: 'mobile' }],
    ['Opera', 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36 OPR/112.0.0.0',
      { browser: 'Opera', browserMajor: 112, os: 'Windows', osMajor: 10, deviceType: 'desktop' }],
    ['Firefox on iPhone', 'Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) FxiOS/127.0 Mobile/15E148 Safari/605.1.15',
      { browser: 'Firefox', browserMajor: 127, os: 'iOS', osMajor: 17, deviceType: 'mobile' }],
    ['ChromeOS', 'Mozilla/5.0 (X11; CrOS x86_64 14541.0.0) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36',
      { browser: 'Chrome', browserMajor: 126, os: 'ChromeOS', deviceType: 'desktop' }],
    ['Windows 7 IE 11', 'Mozilla/5.0 (Windows NT 6.1; WOW64; Trident/7.0; rv:11.0) like Gecko',
      { browser: 'Internet Explorer', browserMajor: 11, os: 'Windows', osMajor: 7, deviceType: 'desktop' }],
    ['curl', 'curl/8.5.0', { browser: 'curl', browserMajor: 8, os: 'Other', deviceType: 'bot' }],
    ['Googlebot', 'Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)', { browser: 'Other', os: 'Other', deviceType: 'bot' }],
    ['headless Chrome', 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/126.0.0.0 Safari/537.36',
      { browser: 'HeadlessChrome', browserMajor: 126, os: 'Linux', deviceType: 'bot' }],
    ['empty', '', { browser: 'Other', os: 'Other', deviceType: 'unknown' }],
    ['nonsense', 'hello world', { browser: 'Other', os: 'Other', deviceType: 'unknown' }],
  ])('%s', (_name, ua, expected) => {
    expect(parseUserAgent(ua)).toEqual(expected);
  });

  test('very long headers are cut, not choked on', () => {
    const ua = `${'A'.repeat(100_000)} Chrome/126.0`;
    expect(parseUserAgent(ua).browser).toBe('Other');
  });

  test('an agent seen again is not parsed again: the same result, frozen since it is shared', () => {
    const agent = 'Mozilla/5.0 (X11; Linux x86_64; rv:131.0) Gecko/20100101 Firefox/131.0';
    const first = parseUserAgent(agent);
    expect(parseUserAgent(`  ${agent} `)).toBe(first);
    expect(Object.isFrozen(first)).toBe(true);
    expect(first).toEqual({ browser: 'Firefox', browserMajor: 131, os: 'Linux', deviceType: 'desktop' });
  });

  test('describeUserAgent and agentChanged ignore versions only where they should', () => {
    const a = parseUserAgent('Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36');
    const b = parseUserAgent('Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/127.0.0.0 Safari/537.36');
    const c = parseUserAgent('Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0');
    expect(describeUserAgent(a)).toBe('Chrome 126 on Windows 10');
    expect(describeUserAgent(c)).toBe('Firefox 128 on Linux');
    expect(agentChanged(a, b)).toBe(false);
    expect(agentChanged(a, c)).toBe(true);
  });
});
