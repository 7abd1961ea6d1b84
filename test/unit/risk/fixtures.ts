/** Shared places, user agents and history builders for the risk engine's unit tests. */
import { emptyHistory, emptyPopulation, eventFromContext, recordEventInPlace, type GeoLocation, type PopulationStats, type RiskContext, type RiskHistory } from '../../../src/risk/index.ts';

export const PLACES = {
  london: { country: 'GB', region: 'ENG', city: 'London', lat: 51.5074, lon: -0.1278, accuracyKm: 20 },
  manchester: { country: 'GB', region: 'ENG', city: 'Manchester', lat: 53.4808, lon: -2.2426, accuracyKm: 20 },
  edinburgh: { country: 'GB', region: 'SCT', city: 'Edinburgh', lat: 55.9533, lon: -3.1883, accuracyKm: 20 },
  paris: { country: 'FR', region: 'IDF', city: 'Paris', lat: 48.8566, lon: 2.3522, accuracyKm: 20 },
  newYork: { country: 'US', region: 'NY', city: 'New York', lat: 40.7128, lon: -74.006, accuracyKm: 20 },
  sydney: { country: 'AU', region: 'NSW', city: 'Sydney', lat: -33.8688, lon: 151.2093, accuracyKm: 20 },
  lagos: { country: 'NG', region: 'LA', city: 'Lagos', lat: 6.5244, lon: 3.3792, accuracyKm: 50 },
} satisfies Record<string, GeoLocation>;

export const UA = {
  chromeWindows: 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36',
  chromeWindowsNext: 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/127.0.0.0 Safari/537.36',
  safariMac: 'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4.1 Safari/605.1.15',
  firefoxLinux: 'Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0',
  safariIphone: 'Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1',
  chromeAndroid: 'Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.6478.122 Mobile Safari/537.36',
};

export const T0 = Date.UTC(2025, 2, 3, 9, 0, 0);
export const MINUTE = 60_000;
export const HOUR = 3_600_000;
export const DAY = 86_400_000;

/** A public address in each place (its own /24), used when a test gives a place but no address. */
export const IPS: Record<string, string> = {
  London: '81.2.69.142',
  Manchester: '82.10.20.30',
  Edinburgh: '83.11.21.31',
  Paris: '90.12.22.32',
  'New York': '24.13.23.33',
  Sydney: '1.14.24.34',
  Lagos: '41.15.25.35',
};

/**
 * A login from London (81.2.69.142), Chrome on Windows, device dev-home, at T0, unless
 * overridden; a place given without an address gets that place's address.
 */
export function ctx(overrides: Partial<RiskContext> = {}): RiskContext {
  const city = overrides.geo?.city;
  return {
    type: 'login',
    time: T0,
    accountId: 'alice',
    clientId: 'webapp',
    ip: city !== undefined && IPS[city] !== undefined ? IPS[city] : '81.2.69.142',
    geo: PLACES.london,
    userAgent: UA.chromeWindows,
    deviceId: 'dev-home',
    outcome: 'success',
    ...overrides,
  };
}

/** Folds contexts (in order) into a history as successful events. */
export function historyOf(contexts: readonly RiskContext[], population: PopulationStats = emptyPopulation()): RiskHistory {
  const history = emptyHistory(population);
  for (const c of contexts) recordEventInPlace(history, eventFromContext(c, history));
  return history;
}

/** `n` daily sign-ins at 09:00 UTC from the same context, ending a day before `end`. */
export function routine(n: number, base: Partial<RiskContext> = {}, end = T0): RiskContext[] {
  return Array.from({ length: n }, (_, i) => ctx({ ...base, time: end - (n - i) * DAY }));
}

/**
 * A population of `accounts` other accounts, each with `each` sign-ins from its own /24 in one
 * of a few cities, with a mix of browsers — so that one account is compared with many.
 */
export function crowd(accounts: number, each: number, population: PopulationStats = emptyPopulation()): PopulationStats {
  const places = [PLACES.london, PLACES.manchester, PLACES.paris, PLACES.newYork, PLACES.sydney];
  const agents = [UA.chromeWindows, UA.safariMac, UA.firefoxLinux, UA.safariIphone, UA.chromeAndroid];
  for (let a = 0; a < accounts; a++) {
    const history = emptyHistory(population);
    for (let i = 0; i < each; i++) {
      const c = ctx({
        accountId: `other-${a}`,
        ip: `10.${Math.floor(a / 200)}.${a % 200}.${1 + i}`,
        geo: places[a % places.length],
        userAgent: agents[(a * 7) % agents.length],
        deviceId: `dev-other-${a}`,
        time: T0 - 30 * DAY + i * DAY + (a % 12) * HOUR,
      });
      recordEventInPlace(history, eventFromContext(c, history));
    }
  }
  return population;
}
