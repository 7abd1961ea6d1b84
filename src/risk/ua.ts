/**
 * A small user-agent parser: browser family and major version, OS family and major version,
 * device type. It only needs to be stable and good enough to compare one sign-in with the
 * account's others; it is not a browser-detection library. Pure, no look-up tables from disk.
 */
import type { DeviceType, ParsedUserAgent } from './types.ts';

const BOT = /bot\b|bot\/|crawler|spider|crawling|slurp|facebookexternalhit|curl\/|wget\/|python-requests|python-urllib|okhttp|go-http-client|java\/|libwww|httpclient|headless/i;

/** Browser rules, most specific first (Edge and Opera also say "Chrome", Chrome also says "Safari"). */
const BROWSERS: [string, RegExp][] = [
  ['Edge', /\bEdg(?:e|A|iOS)?\/(\d+)/],
  ['Opera', /\b(?:OPR|OPT|Opera)\/(\d+)/],
  ['Samsung Internet', /\bSamsungBrowser\/(\d+)/],
  ['Yandex', /\bYaBrowser\/(\d+)/],
  ['Vivaldi', /\bVivaldi\/(\d+)/],
  ['Firefox', /\b(?:Firefox|FxiOS)\/(\d+)/],
  ['HeadlessChrome', /\bHeadlessChrome\/(\d+)/],
  ['Chromium', /\bChromium\/(\d+)/],
  ['Chrome', /\b(?:Chrome|CriOS)\/(\d+)/],
  ['Safari', /\bVersion\/(\d+)(?:[.\d]*)?(?: Mobile\/\w+)? Safari\//],
  ['Safari', /\b(?:iPhone|iPad|iPod|Macintosh).*AppleWebKit\/[\d.]+ \(KHTML, like Gecko\)(?: Mobile\/\w+)?$/],
  ['Internet Explorer', /\b(?:MSIE |Trident\/.*\brv:)(\d+)/],
  ['curl', /^curl\/(\d+)/],
  ['Wget', /^Wget\/(\d+)/],
  ['okhttp', /\bokhttp\/(\d+)/],
  ['python-requests', /\bpython-requests\/(\d+)/],
];

const WINDOWS_NT: Record<string, number> = { '10.0': 10, '6.3': 8, '6.2': 8, '6.1': 7, '6.0': 6, '5.1': 5, '5.2': 5 };

function parseOs(ua: string): { os: string; osMajor?: number } {
  let m: RegExpExecArray | null;
  if ((m = /Windows Phone(?: OS)? (\d+)/.exec(ua))) return { os: 'Windows Phone', osMajor: Number(m[1]) };
  if ((m = /Windows NT (\d+\.\d+)/.exec(ua))) {
    const major = WINDOWS_NT[m[1]];
    return major === undefined ? { os: 'Windows' } : { os: 'Windows', osMajor: major };
  }
  if (/Windows/.test(ua)) return { os: 'Windows' };
  if ((m = /(?:iPhone|iPad|iPod)(?:.*?) OS (\d+)[_.]/.exec(ua))) return { os: 'iOS', osMajor: Number(m[1]) };
  if (/iPhone|iPad|iPod/.test(ua)) return { os: 'iOS' };
  if ((m = /Android[ /](\d+)/.exec(ua))) return { os: 'Android', osMajor: Number(m[1]) };
  if (/Android/.test(ua)) return { os: 'Android' };
  if (/CrOS/.test(ua)) return { os: 'ChromeOS' };
  if ((m = /Mac OS X (\d+)/.exec(ua))) return { os: 'macOS', osMajor: Number(m[1]) };
  if (/Macintosh|Mac OS/.test(ua)) return { os: 'macOS' };
  if (/Linux|X11|Ubuntu|Fedora/.test(ua)) return { os: 'Linux' };
  return { os: 'Other' };
}

function parseDeviceType(ua: string, os: string, bot: boolean): DeviceType {
  if (bot) return 'bot';
  if (/iPad|Tablet/.test(ua) || (os === 'Android' && !/Mobile/.test(ua))) return 'tablet';
  if (/Mobile|iPhone|iPod|Windows Phone/.test(ua) || os === 'iOS' || os === 'Android') return 'mobile';
  return os === 'Other' ? 'unknown' : 'desktop';
}

/**
 * The last agents parsed (a refresh parses its own and its session's first one, and a person's
 * agent repeats): the result depends on the text alone. Frozen, since it is shared.
 */
const recent = new Map<string, Readonly<ParsedUserAgent>>();
const RECENT_MAX = 2000;

/** Parses a User-Agent header. Unknown pieces come back as `Other` / `unknown`, never an error. */
export function parseUserAgent(userAgent: string | undefined): Readonly<ParsedUserAgent> {
  const ua = (userAgent ?? '').trim().slice(0, 512);
  let parsed = recent.get(ua);
  if (parsed) return parsed;
  parsed = Object.freeze(parseAgent(ua));
  if (recent.size >= RECENT_MAX) recent.clear();
  recent.set(ua, parsed);
  return parsed;
}

function parseAgent(ua: string): ParsedUserAgent {
  if (ua === '') return { browser: 'Other', os: 'Other', deviceType: 'unknown' };
  let browser = 'Other';
  let browserMajor: number | undefined;
  for (const [name, pattern] of BROWSERS) {
    const m = pattern.exec(ua);
    if (m) {
      browser = name;
      if (m[1] !== undefined) browserMajor = Number(m[1]);
      break;
    }
  }
  const { os, osMajor } = parseOs(ua);
  const bot = BOT.test(ua) || browser === 'HeadlessChrome';
  const result: ParsedUserAgent = { browser, os, deviceType: parseDeviceType(ua, os, bot) };
  if (browserMajor !== undefined) result.browserMajor = browserMajor;
  if (osMajor !== undefined) result.osMajor = osMajor;
  return result;
}

/** "Chrome 126 on Windows 10" — for reasons shown to people. */
export function describeUserAgent(ua: ParsedUserAgent): string {
  const browser = ua.browserMajor === undefined ? ua.browser : `${ua.browser} ${ua.browserMajor}`;
  const os = ua.osMajor === undefined ? ua.os : `${ua.os} ${ua.osMajor}`;
  return `${browser} on ${os}`;
}
