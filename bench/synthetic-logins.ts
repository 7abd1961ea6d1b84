/**
 * Seeded synthetic login histories for evaluating the risk engine (`npm run eval:risk`).
 *
 * A small world of cities (lat/lon, country, region, UTC offset), ISPs, mobile carriers, VPN
 * providers and hotels, each with its own /24 networks. Legitimate users live somewhere, log in
 * from home (laptop or phone on Wi-Fi), from work, from their phone on a mobile carrier (whose
 * addresses geolocate to the carrier's hub city), travel (by air at plausible speeds, hotel
 * Wi-Fi, phone roaming through the home carrier), get new phones, lose cookies, install other
 * browsers, open private windows, use a separate work computer or a second device at home; 2%
 * never keep cookies and 3% often use a commercial VPN. Browsers auto-update. One broadband
 * block in ten geolocates to another city of the country.
 *
 * Sessions: some sign-ins open an app session whose refresh token is refreshed every few
 * minutes while it is used; a phone on the mobile network gets a new carrier address at nearly
 * every refresh (carrier NAT), and phones leave home Wi-Fi for the carrier mid-session. 3% of
 * people always work through their employer's VPN exit in another country, and one in ten signs
 * in only every few weeks.
 *
 * Attackers know the password and try to sign in as a victim, with increasing skill:
 *   foreign            from another country, their own browser, no device cookie
 *   vpn_same_country   through a commercial VPN exit in the victim's country (the operator's
 *                      anonymizer list covers most, not all, exits), their own browser
 *   same_city_browser  through a residential proxy in the victim's home city (3 in 10 on a /24
 *                      the victim has used: proxies run on home routers of the victim's ISP),
 *                      the victim's browser family and (usually) OS, a fresh device cookie
 *   same_city_exact_ua the same with the victim's exact user-agent string, at the victim's usual hours
 *   cookie_theft       as same_city_exact_ua, plus the victim's device cookie
 *                      (an info-stealer took both): the limit of what context can detect
 *   token_theft        a refresh with a stolen refresh token from the attacker's own device
 *   token_cookie_other_city  a stolen refresh token and device binding (cookie, DPoP key) replayed
 *                      with the exact user agent from another city of the victim's country,
 *                      minutes after the victim's last refresh of that session
 *   token_cookie_same_city   the same from a residential address in the victim's own city
 *   stuffing           credential stuffing from one address (dozens of failures in minutes)
 *   distributed_stuffing  one try per address, from many residential addresses in the victim's country
 *
 * Everything is drawn from one deterministic PRNG (sfc32), so a seed always gives the same world.
 * The generator knows nothing about the engine; do not tune it to the engine's outcomes.
 */
import { ipPrefix } from '../src/risk/ip.ts';
import type { GeoLocation, RiskContext } from '../src/risk/types.ts';

// ---------------------------------------------------------------------------------------------
// Deterministic randomness

export class Rng {
  #a: number;
  #b: number;
  #c: number;
  #d: number;

  constructor(seed: number) {
    this.#a = 0x9e3779b9;
    this.#b = 0x243f6a88;
    this.#c = 0xb7e15162;
    this.#d = seed >>> 0;
    for (let i = 0; i < 20; i++) this.next();
  }

  /** Uniform in [0, 1). */
  next(): number {
    const a = this.#a, b = this.#b, c = this.#c, d = this.#d;
    const t = (((a + b) | 0) + d) | 0;
    this.#d = (d + 1) | 0;
    this.#a = b ^ (b >>> 9);
    this.#b = (c + (c << 3)) | 0;
    const r = (c << 21) | (c >>> 11);
    this.#c = (r + t) | 0;
    return (t >>> 0) / 4294967296;
  }

  int(n: number): number {
    return Math.floor(this.next() * n);
  }

  chance(p: number): boolean {
    return this.next() < p;
  }

  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)];
  }

  weighted<T>(items: readonly T[], weight: (item: T) => number): T {
    let total = 0;
    for (const item of items) total += weight(item);
    let x = this.next() * total;
    for (const item of items) {
      x -= weight(item);
      if (x < 0) return item;
    }
    return items[items.length - 1];
  }

  normal(mean: number, sd: number): number {
    const u = Math.max(1e-12, this.next());
    return mean + sd * Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * this.next());
  }

  poisson(lambda: number): number {
    const limit = Math.exp(-lambda);
    let k = 0;
    let p = this.next();
    while (p > limit) {
      k++;
      p *= this.next();
    }
    return k;
  }

  id(prefix: string): string {
    let s = prefix;
    for (let i = 0; i < 4; i++) s += Math.floor(this.next() * 0x10000).toString(16).padStart(4, '0');
    return s;
  }
}

// ---------------------------------------------------------------------------------------------
// The world

export interface City {
  name: string;
  country: string;
  region: string;
  lat: number;
  lon: number;
  /** Hours east of UTC (no daylight saving). */
  utc: number;
  /** Relative share of users living there. */
  weight: number;
}

export const CITIES: readonly City[] = [
  { name: 'London', country: 'GB', region: 'ENG', lat: 51.507, lon: -0.128, utc: 0, weight: 8 },
  { name: 'Manchester', country: 'GB', region: 'ENG', lat: 53.48, lon: -2.24, utc: 0, weight: 3 },
  { name: 'Birmingham', country: 'GB', region: 'ENG', lat: 52.49, lon: -1.89, utc: 0, weight: 2 },
  { name: 'Edinburgh', country: 'GB', region: 'SCT', lat: 55.95, lon: -3.19, utc: 0, weight: 2 },
  { name: 'Glasgow', country: 'GB', region: 'SCT', lat: 55.86, lon: -4.25, utc: 0, weight: 1 },
  { name: 'Paris', country: 'FR', region: 'IDF', lat: 48.857, lon: 2.352, utc: 1, weight: 6 },
  { name: 'Lyon', country: 'FR', region: 'ARA', lat: 45.76, lon: 4.84, utc: 1, weight: 2 },
  { name: 'Marseille', country: 'FR', region: 'PAC', lat: 43.3, lon: 5.37, utc: 1, weight: 2 },
  { name: 'Toulouse', country: 'FR', region: 'OCC', lat: 43.6, lon: 1.44, utc: 1, weight: 1 },
  { name: 'Berlin', country: 'DE', region: 'BE', lat: 52.52, lon: 13.405, utc: 1, weight: 4 },
  { name: 'Munich', country: 'DE', region: 'BY', lat: 48.137, lon: 11.575, utc: 1, weight: 3 },
  { name: 'Hamburg', country: 'DE', region: 'HH', lat: 53.55, lon: 9.99, utc: 1, weight: 2 },
  { name: 'Frankfurt', country: 'DE', region: 'HE', lat: 50.11, lon: 8.68, utc: 1, weight: 2 },
  { name: 'Cologne', country: 'DE', region: 'NW', lat: 50.94, lon: 6.96, utc: 1, weight: 2 },
  { name: 'Amsterdam', country: 'NL', region: 'NH', lat: 52.37, lon: 4.9, utc: 1, weight: 2 },
  { name: 'Rotterdam', country: 'NL', region: 'ZH', lat: 51.92, lon: 4.48, utc: 1, weight: 1 },
  { name: 'Madrid', country: 'ES', region: 'MD', lat: 40.417, lon: -3.704, utc: 1, weight: 3 },
  { name: 'Barcelona', country: 'ES', region: 'CT', lat: 41.39, lon: 2.17, utc: 1, weight: 3 },
  { name: 'Valencia', country: 'ES', region: 'VC', lat: 39.47, lon: -0.38, utc: 1, weight: 1 },
  { name: 'Rome', country: 'IT', region: '62', lat: 41.9, lon: 12.5, utc: 1, weight: 3 },
  { name: 'Milan', country: 'IT', region: '25', lat: 45.46, lon: 9.19, utc: 1, weight: 3 },
  { name: 'Naples', country: 'IT', region: '72', lat: 40.85, lon: 14.27, utc: 1, weight: 1 },
  { name: 'Stockholm', country: 'SE', region: 'AB', lat: 59.33, lon: 18.07, utc: 1, weight: 1 },
  { name: 'Warsaw', country: 'PL', region: '14', lat: 52.23, lon: 21.01, utc: 1, weight: 2 },
  { name: 'Krakow', country: 'PL', region: '12', lat: 50.06, lon: 19.94, utc: 1, weight: 1 },
  { name: 'New York', country: 'US', region: 'NY', lat: 40.71, lon: -74.01, utc: -5, weight: 6 },
  { name: 'Boston', country: 'US', region: 'MA', lat: 42.36, lon: -71.06, utc: -5, weight: 2 },
  { name: 'Chicago', country: 'US', region: 'IL', lat: 41.88, lon: -87.63, utc: -6, weight: 3 },
  { name: 'Austin', country: 'US', region: 'TX', lat: 30.27, lon: -97.74, utc: -6, weight: 2 },
  { name: 'Denver', country: 'US', region: 'CO', lat: 39.74, lon: -104.99, utc: -7, weight: 1 },
  { name: 'San Francisco', country: 'US', region: 'CA', lat: 37.77, lon: -122.42, utc: -8, weight: 3 },
  { name: 'Los Angeles', country: 'US', region: 'CA', lat: 34.05, lon: -118.24, utc: -8, weight: 4 },
  { name: 'Seattle', country: 'US', region: 'WA', lat: 47.61, lon: -122.33, utc: -8, weight: 2 },
  { name: 'Miami', country: 'US', region: 'FL', lat: 25.76, lon: -80.19, utc: -5, weight: 2 },
  { name: 'Atlanta', country: 'US', region: 'GA', lat: 33.75, lon: -84.39, utc: -5, weight: 2 },
  { name: 'Toronto', country: 'CA', region: 'ON', lat: 43.65, lon: -79.38, utc: -5, weight: 2 },
  { name: 'Vancouver', country: 'CA', region: 'BC', lat: 49.28, lon: -123.12, utc: -8, weight: 1 },
  { name: 'Montreal', country: 'CA', region: 'QC', lat: 45.5, lon: -73.57, utc: -5, weight: 1 },
  { name: 'São Paulo', country: 'BR', region: 'SP', lat: -23.55, lon: -46.63, utc: -3, weight: 2 },
  { name: 'Rio de Janeiro', country: 'BR', region: 'RJ', lat: -22.91, lon: -43.17, utc: -3, weight: 1 },
  { name: 'Mexico City', country: 'MX', region: 'CMX', lat: 19.43, lon: -99.13, utc: -6, weight: 1 },
  { name: 'Sydney', country: 'AU', region: 'NSW', lat: -33.87, lon: 151.21, utc: 10, weight: 2 },
  { name: 'Melbourne', country: 'AU', region: 'VIC', lat: -37.81, lon: 144.96, utc: 10, weight: 2 },
  { name: 'Perth', country: 'AU', region: 'WA', lat: -31.95, lon: 115.86, utc: 8, weight: 1 },
  { name: 'Tokyo', country: 'JP', region: '13', lat: 35.68, lon: 139.69, utc: 9, weight: 2 },
  { name: 'Osaka', country: 'JP', region: '27', lat: 34.69, lon: 135.5, utc: 9, weight: 1 },
  { name: 'Seoul', country: 'KR', region: '11', lat: 37.57, lon: 126.98, utc: 9, weight: 1 },
  { name: 'Singapore', country: 'SG', region: '01', lat: 1.35, lon: 103.82, utc: 8, weight: 1 },
  { name: 'Mumbai', country: 'IN', region: 'MH', lat: 19.08, lon: 72.88, utc: 5.5, weight: 2 },
  { name: 'Bangalore', country: 'IN', region: 'KA', lat: 12.97, lon: 77.59, utc: 5.5, weight: 2 },
  { name: 'Delhi', country: 'IN', region: 'DL', lat: 28.61, lon: 77.21, utc: 5.5, weight: 2 },
  { name: 'Lagos', country: 'NG', region: 'LA', lat: 6.52, lon: 3.38, utc: 1, weight: 1 },
  { name: 'Johannesburg', country: 'ZA', region: 'GT', lat: -26.2, lon: 28.05, utc: 2, weight: 1 },
  { name: 'Cairo', country: 'EG', region: 'C', lat: 30.04, lon: 31.24, utc: 2, weight: 0.5 },
  { name: 'Moscow', country: 'RU', region: 'MOW', lat: 55.76, lon: 37.62, utc: 3, weight: 1 },
  { name: 'Kyiv', country: 'UA', region: '30', lat: 50.45, lon: 30.52, utc: 2, weight: 0.5 },
  { name: 'Istanbul', country: 'TR', region: '34', lat: 41.01, lon: 28.98, utc: 3, weight: 1 },
  { name: 'Dubai', country: 'AE', region: 'DU', lat: 25.2, lon: 55.27, utc: 4, weight: 0.5 },
  { name: 'Beijing', country: 'CN', region: 'BJ', lat: 39.9, lon: 116.41, utc: 8, weight: 1 },
  { name: 'Ho Chi Minh City', country: 'VN', region: 'SG', lat: 10.82, lon: 106.63, utc: 7, weight: 0.5 },
  { name: 'Jakarta', country: 'ID', region: 'JK', lat: -6.21, lon: 106.85, utc: 7, weight: 0.5 },
];

const COUNTRIES = [...new Set(CITIES.map((c) => c.country))];
const citiesIn = (country: string) => CITIES.filter((c) => c.country === country);
/** The country's first-listed (largest) city: where carriers' and VPNs' addresses geolocate. */
const hubOf = (country: string) => citiesIn(country)[0];

function haversine(a: { lat: number; lon: number }, b: { lat: number; lon: number }): number {
  const rad = Math.PI / 180;
  const s = Math.sin(((b.lat - a.lat) * rad) / 2) ** 2 + Math.cos(a.lat * rad) * Math.cos(b.lat * rad) * Math.sin(((b.lon - a.lon) * rad) / 2) ** 2;
  return 2 * 6371 * Math.asin(Math.min(1, Math.sqrt(s)));
}

/** A /24 network: where geolocation puts it and which operator lists contain it. */
export interface Network {
  prefix: string;
  geo: GeoLocation;
  tags: string[];
}

export class AddressPlan {
  #next = 0;
  readonly networks = new Map<string, Network>();

  /** Allocates a fresh /24 (public-looking space from 11.0.0.0) located at `city`. */
  allocate(city: City, accuracyKm: number, tags: string[] = []): Network {
    const k = this.#next++;
    const a = 11 + Math.floor(k / 65536);
    const prefix = `${a}.${Math.floor(k / 256) % 256}.${k % 256}.0/24`;
    const geo: GeoLocation = { country: city.country, region: city.region, city: city.name, lat: city.lat, lon: city.lon, accuracyKm };
    const network = { prefix, geo, tags };
    this.networks.set(prefix, network);
    return network;
  }

  address(network: Network, rng: Rng): string {
    return network.prefix.replace('.0/24', `.${1 + rng.int(254)}`);
  }

  lookup(ip: string): Network | undefined {
    return this.networks.get(ipPrefix(ip));
  }
}

export interface World {
  rng: Rng;
  plan: AddressPlan;
  /** Broadband /24s of each city's ISPs (some registered in another city of the country). */
  isp: Map<string, Network[]>;
  /** Mobile carrier /24s per country, located at the hub city with a wide radius. */
  carriers: Map<string, Network[]>;
  /** Mobile carrier /24s geolocated to each city (a carrier's regional gateways). */
  cityCarriers: Map<string, Network[]>;
  /** Corporate VPN exits (employers' own, on no operator list), per country. */
  corporateExits: Map<string, Network[]>;
  /** Commercial VPN exits per country (datacentres in the hub city); most on the anonymizer list. */
  vpnExits: Map<string, Network[]>;
  /** Hotel / café Wi-Fi per city. */
  hotels: Map<string, Network[]>;
}

export function buildWorld(rng: Rng): World {
  const plan = new AddressPlan();
  const isp = new Map<string, Network[]>();
  const carriers = new Map<string, Network[]>();
  const vpnExits = new Map<string, Network[]>();
  const hotels = new Map<string, Network[]>();
  const cityCarriers = new Map<string, Network[]>();
  const corporateExits = new Map<string, Network[]>();
  for (const city of CITIES) {
    const nets: Network[] = [];
    const count = Math.max(30, Math.round(city.weight * 40));
    for (let i = 0; i < count; i++) {
      // One broadband block in ten is registered (geolocated) elsewhere in the country.
      const at = rng.chance(0.1) ? rng.pick(citiesIn(city.country)) : city;
      nets.push(plan.allocate(at, at === city ? rng.pick([10, 20, 20, 50]) : 100));
    }
    isp.set(city.name, nets);
    hotels.set(city.name, Array.from({ length: 30 }, () => plan.allocate(city, 20)));
  }
  for (const country of COUNTRIES) {
    const hub = hubOf(country);
    carriers.set(country, Array.from({ length: 60 }, () => plan.allocate(hub, rng.pick([100, 200, 500]))));
    // Operators' anonymizer lists miss some exits (one in ten here).
    vpnExits.set(country, Array.from({ length: 24 }, () => plan.allocate(hub, 50, rng.chance(0.9) ? ['anonymizer'] : [])));
    corporateExits.set(country, Array.from({ length: 8 }, () => plan.allocate(hub, 20)));
  }
  for (const city of CITIES) cityCarriers.set(city.name, Array.from({ length: 12 }, () => plan.allocate(city, rng.pick([20, 50]))));
  return { rng, plan, isp, carriers, cityCarriers, corporateExits, vpnExits, hotels };
}

// ---------------------------------------------------------------------------------------------
// User agents

const DAY = 86_400_000;
export const EPOCH = Date.UTC(2025, 0, 6);

type BrowserFamily = 'Chrome' | 'Edge' | 'Firefox' | 'Safari' | 'Samsung Internet';
type OsFamily = 'Windows' | 'macOS' | 'Linux' | 'iOS' | 'Android';

export interface Agent {
  browser: BrowserFamily;
  os: OsFamily;
}

/** A realistic User-Agent string for the family at a point in time (browsers update every 4 weeks). */
export function userAgentString(agent: Agent, time: number): string {
  const weeks4 = Math.floor((time - EPOCH) / (28 * DAY));
  const chrome = 131 + weeks4;
  const firefox = 134 + weeks4;
  const safari = 18 + Math.floor((time - EPOCH) / (365 * DAY));
  switch (agent.os) {
    case 'Windows':
      if (agent.browser === 'Firefox') return `Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:${firefox}.0) Gecko/20100101 Firefox/${firefox}.0`;
      if (agent.browser === 'Edge') return `Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/${chrome}.0.0.0 Safari/537.36 Edg/${chrome}.0.0.0`;
      return `Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/${chrome}.0.0.0 Safari/537.36`;
    case 'macOS':
      if (agent.browser === 'Safari') return `Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/${safari}.1 Safari/605.1.15`;
      if (agent.browser === 'Firefox') return `Mozilla/5.0 (Macintosh; Intel Mac OS X 10.15; rv:${firefox}.0) Gecko/20100101 Firefox/${firefox}.0`;
      if (agent.browser === 'Edge') return `Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/${chrome}.0.0.0 Safari/537.36 Edg/${chrome}.0.0.0`;
      return `Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/${chrome}.0.0.0 Safari/537.36`;
    case 'Linux':
      if (agent.browser === 'Firefox') return `Mozilla/5.0 (X11; Linux x86_64; rv:${firefox}.0) Gecko/20100101 Firefox/${firefox}.0`;
      if (agent.browser === 'Edge') return `Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/${chrome}.0.0.0 Safari/537.36 Edg/${chrome}.0.0.0`;
      return `Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/${chrome}.0.0.0 Safari/537.36`;
    case 'iOS':
      if (agent.browser === 'Chrome') return `Mozilla/5.0 (iPhone; CPU iPhone OS ${safari}_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) CriOS/${chrome}.0.0.0 Mobile/15E148 Safari/604.1`;
      return `Mozilla/5.0 (iPhone; CPU iPhone OS ${safari}_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/${safari}.1 Mobile/15E148 Safari/604.1`;
    case 'Android':
      if (agent.browser === 'Samsung Internet') return `Mozilla/5.0 (Linux; Android 14; SM-S921B) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/26.0 Chrome/${chrome - 9}.0.0.0 Mobile Safari/537.36`;
      return `Mozilla/5.0 (Linux; Android 14; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/${chrome}.0.0.0 Mobile Safari/537.36`;
  }
}

/** Desktop OS and browser by rough market share. */
export function randomDesktopAgent(rng: Rng): Agent {
  const os = rng.weighted<OsFamily>(['Windows', 'macOS', 'Linux'], (o) => ({ Windows: 70, macOS: 25, Linux: 5 } as Record<string, number>)[o]);
  return { os, browser: randomBrowserFor(rng, os) };
}

function randomBrowserFor(rng: Rng, os: OsFamily): BrowserFamily {
  const shares: Record<OsFamily, [BrowserFamily, number][]> = {
    Windows: [['Chrome', 65], ['Edge', 25], ['Firefox', 10]],
    macOS: [['Safari', 45], ['Chrome', 45], ['Firefox', 10]],
    Linux: [['Firefox', 50], ['Chrome', 50]],
    iOS: [['Safari', 85], ['Chrome', 15]],
    Android: [['Chrome', 85], ['Samsung Internet', 15]],
  };
  return rng.weighted(shares[os], (s) => s[1])[0];
}

function randomPhoneAgent(rng: Rng, os?: OsFamily): Agent {
  const family = os ?? (rng.chance(0.55) ? 'iOS' : 'Android');
  return { os: family, browser: randomBrowserFor(rng, family) };
}

// ---------------------------------------------------------------------------------------------
// Users and their events

export type LegitCategory =
  | 'home' | 'work' | 'mobile' | 'travel_domestic' | 'travel_abroad' | 'new_phone' | 'lost_cookie' | 'private_window' | 'no_cookies' | 'vpn'
  | 'corporate_vpn' | 'refresh_laptop' | 'refresh_phone' | 'refresh_phone_hopping';

export type AttackCategory =
  | 'foreign' | 'vpn_same_country' | 'same_city_browser' | 'same_city_exact_ua' | 'cookie_theft' | 'token_theft'
  | 'token_cookie_other_city' | 'token_cookie_same_city' | 'stuffing' | 'distributed_stuffing';

export interface SyntheticEvent {
  kind: 'legit' | 'attack';
  category: LegitCategory | AttackCategory;
  accountId: string;
  context: RiskContext;
  /** Successful events of the account before this one (for reporting by history size). */
  priorEvents?: number;
  /** Stuffing: failed logins just before this one from its address, and against the account (epoch ms). */
  failuresFromIp?: number[];
  failuresOfAccount?: number[];
}

/** An app session of a legitimate user that refreshed at least once (what a token thief replays). */
interface SessionRecord {
  id: string;
  lastRefreshAt: number;
  agent: Agent;
  device: string | undefined;
}

interface Trip {
  city: City;
  /** Epoch ms: leaves home, lands, leaves destination, lands home. */
  depart: number;
  arrive: number;
  leave: number;
  back: number;
}

export interface SyntheticUser {
  id: string;
  home: City;
  /** Primary desktop agent (what a targeted attacker copies). */
  laptop: Agent;
  laptopDevice: string;
  phone?: Agent;
  phoneDevice?: string;
}

interface UserState extends SyntheticUser {
  rate: number;
  homeNet: Network;
  homeIsp: Network[];
  work?: { city: City; net: Network };
  carrier: Network[];
  vpnUser: boolean;
  trips: Trip[];
  newPhoneAt?: number;
  /** A separate computer at work (its own browser and device cookie). */
  workComputer?: { agent: Agent; device: string };
  /** A second device at home (family PC, tablet). */
  homeDevice?: { agent: Agent; device: string };
  /** Clears cookies on exit or always browses privately: every laptop sign-in is a new device. */
  noCookies: boolean;
  /** Typical local hours of this person. */
  routine: { morning: number; evening: number };
  /** Works through the employer's VPN exit in another country (every laptop sign-in). */
  corporateExit?: Network;
  /** The /24s the person has used at home, with when first used (a proxy may sit on one). */
  homeNets: { net: Network; since: number }[];
  sessions: SessionRecord[];
}

export interface GenerateOptions {
  seed: number;
  users: number;
  days: number;
}

export interface SyntheticWorld {
  world: World;
  users: SyntheticUser[];
  /** All events, legitimate and attacks, in time order. */
  events: SyntheticEvent[];
}

const LEGIT_CLIENT = 'webapp';

function makeUser(world: World, index: number, days: number): UserState {
  const { rng } = world;
  const home = rng.weighted(CITIES, (c) => c.weight);
  const homeIsp = world.isp.get(home.name)!;
  const laptop = randomDesktopAgent(rng);
  const hasPhone = rng.chance(0.65);
  const works = rng.chance(0.7);
  let work: UserState['work'];
  if (works) {
    const sameCountry = citiesIn(home.country).filter((c) => haversine(c, home) < 120);
    const city = rng.chance(0.85) ? home : rng.pick(sameCountry);
    const net = world.plan.allocate(city, 20, rng.chance(0.5) ? ['corporate'] : []);
    work = { city, net };
  }
  const trips: Trip[] = [];
  if (rng.chance(0.5)) {
    const favourite = rng.chance(0.5) ? rng.weighted(CITIES.filter((c) => c !== home), (c) => c.weight) : undefined;
    const count = rng.poisson((3 * days) / 180);
    let t = EPOCH + rng.int(20) * DAY;
    for (let i = 0; i < count; i++) {
      t += (5 + rng.int(Math.max(6, Math.floor(days / Math.max(1, count))))) * DAY;
      if (t > EPOCH + (days - 3) * DAY) break;
      const domestic = rng.chance(0.6);
      const city = favourite && rng.chance(0.4)
        ? favourite
        : domestic && citiesIn(home.country).length > 1
          ? rng.pick(citiesIn(home.country).filter((c) => c !== home))
          : rng.weighted(CITIES.filter((c) => c.country !== home.country), (c) => c.weight);
      const flightMs = (haversine(home, city) / 750 + 2.5) * 3_600_000;
      const depart = t + (6 + rng.int(14)) * 3_600_000;
      const arrive = depart + flightMs;
      const stay = (2 + rng.int(9)) * DAY;
      const leave = arrive + stay;
      trips.push({ city, depart, arrive, leave, back: leave + flightMs });
      t = leave + flightMs;
    }
  }
  const state: UserState = {
    id: `user-${index}`,
    home,
    laptop,
    laptopDevice: rng.id('dev-'),
    rate: rng.weighted([0.3, 1, 3], (r) => ({ 0.3: 30, 1: 50, 3: 20 } as Record<number, number>)[r]),
    homeNet: rng.pick(homeIsp),
    homeIsp,
    carrier: world.carriers.get(home.country)!,
    vpnUser: rng.chance(0.03),
    noCookies: rng.chance(0.02),
    trips,
    routine: { morning: rng.normal(8, 1), evening: rng.normal(20.5, 1.2) },
    homeNets: [],
    sessions: [],
  };
  if (work) {
    state.work = work;
    if (rng.chance(0.4)) {
      const os = rng.chance(0.85) ? 'Windows' : 'macOS';
      state.workComputer = { agent: { os, browser: randomBrowserFor(rng, os) }, device: rng.id('dev-') };
    }
  }
  if (rng.chance(0.15)) {
    state.homeDevice = { agent: rng.chance(0.5) ? randomDesktopAgent(rng) : { os: 'iOS', browser: 'Safari' }, device: rng.id('dev-') };
  }
  if (hasPhone) {
    state.phone = randomPhoneAgent(rng);
    state.phoneDevice = rng.id('dev-');
    if (rng.chance(0.25)) state.newPhoneAt = EPOCH + rng.int(days) * DAY;
  }
  if (rng.chance(0.1)) state.rate = 0.05;
  if (rng.chance(0.03)) {
    const country = rng.pick(COUNTRIES.filter((c) => c !== home.country));
    state.corporateExit = rng.pick(world.corporateExits.get(country)!);
  }
  return state;
}

function whereAt(user: UserState, time: number): { city: City; trip?: Trip; inFlight: boolean } {
  for (const trip of user.trips) {
    if (time >= trip.depart && time < trip.arrive) return { city: user.home, trip, inFlight: true };
    if (time >= trip.leave && time < trip.back) return { city: trip.city, trip, inFlight: true };
    if (time >= trip.arrive && time < trip.leave) return { city: trip.city, trip, inFlight: false };
  }
  return { city: user.home, inFlight: false };
}

function localHourDraw(rng: Rng, user: UserState): number {
  const x = rng.next();
  let h: number;
  if (x < 0.35) h = rng.normal(user.routine.morning, 1);
  else if (x < 0.65) h = rng.normal(13, 2.5);
  else if (x < 0.97) h = rng.normal(user.routine.evening, 1.5);
  else h = rng.next() * 24;
  return ((h % 24) + 24) % 24;
}

function context(world: World, accountId: string, time: number, net: Network, agent: Agent, deviceId: string | undefined, clientId = LEGIT_CLIENT): RiskContext {
  const ctx: RiskContext = {
    type: 'login',
    time: Math.round(time),
    accountId,
    clientId,
    ip: world.plan.address(net, world.rng),
    geo: net.geo,
    userAgent: userAgentString(agent, time),
    outcome: 'success',
  };
  if (deviceId !== undefined) ctx.deviceId = deviceId;
  if (net.tags.length > 0) ctx.networkTags = net.tags;
  return ctx;
}

function legitEvents(world: World, user: UserState, days: number): SyntheticEvent[] {
  const { rng } = world;
  const events: SyntheticEvent[] = [];
  let phoneAgent = user.phone;
  let phoneDevice = user.phoneDevice;
  let laptopDevice = user.laptopDevice;
  let laptopAgent = user.laptop;
  let newPhonePending = false;
  const carrierHere = (city: City) => [...world.carriers.get(city.country)!, ...(world.cityCarriers.get(city.name) ?? [])];
  for (let day = 0; day < days; day++) {
    // The ISP sometimes moves the home connection to another /24.
    if (rng.chance(0.01) || user.homeNets.length === 0) {
      if (user.homeNets.length > 0) user.homeNet = rng.pick(user.homeIsp);
      user.homeNets.push({ net: user.homeNet, since: EPOCH + day * DAY });
    }
    if (user.newPhoneAt !== undefined && phoneAgent && EPOCH + day * DAY >= user.newPhoneAt) {
      phoneAgent = rng.chance(0.15) ? randomPhoneAgent(rng, phoneAgent.os === 'iOS' ? 'Android' : 'iOS') : randomPhoneAgent(rng, phoneAgent.os);
      phoneDevice = rng.id('dev-');
      user.newPhoneAt = undefined;
      newPhonePending = true;
    }
    const n = rng.poisson(user.rate);
    const hours = Array.from({ length: n }, () => localHourDraw(rng, user)).sort((a, b) => a - b);
    let busyUntil = 0;
    for (const hour of hours) {
      const provisional = EPOCH + day * DAY + (hour - user.home.utc) * 3_600_000;
      const place = whereAt(user, provisional);
      if (place.inFlight) continue;
      const time = EPOCH + day * DAY + (hour - place.city.utc) * 3_600_000 + rng.int(60_000);
      if (time < busyUntil) continue;
      const usePhone = phoneAgent !== undefined && rng.chance(0.4);
      let agent = usePhone ? phoneAgent! : laptopAgent;
      let device = usePhone ? phoneDevice : laptopDevice;
      let category: LegitCategory;
      let net: Network;
      const weekday = ((day % 7) + 7) % 7 < 5;
      if (place.trip) {
        const abroad = place.city.country !== user.home.country;
        category = abroad ? 'travel_abroad' : 'travel_domestic';
        // Phones roam through the home carrier half the time (their address stays at home).
        net = usePhone && rng.chance(0.5) ? rng.pick(user.carrier) : rng.pick(world.hotels.get(place.city.name)!);
      } else if (!usePhone && user.corporateExit) {
        category = 'corporate_vpn';
        net = user.corporateExit;
      } else if (user.vpnUser && rng.chance(0.3)) {
        category = 'vpn';
        const exitCountry = rng.chance(0.7) ? user.home.country : rng.pick(['NL', 'SE', 'US', 'DE']);
        net = rng.pick(world.vpnExits.get(exitCountry)!);
      } else if (usePhone && rng.chance(0.35)) {
        category = 'mobile';
        net = rng.pick(carrierHere(user.home));
      } else if (!usePhone && user.work && weekday && hour >= 9 && hour < 17.5 && rng.chance(0.75)) {
        category = 'work';
        net = user.work.net;
        if (user.workComputer && rng.chance(0.8)) {
          agent = user.workComputer.agent;
          device = user.workComputer.device;
        }
      } else {
        category = 'home';
        net = user.homeNet;
        if (!usePhone && user.homeDevice && rng.chance(0.2)) {
          agent = user.homeDevice.agent;
          device = user.homeDevice.device;
        }
      }
      if (usePhone && newPhonePending) {
        category = 'new_phone';
        newPhonePending = false;
      } else if (!usePhone && user.noCookies) {
        device = rng.id('dev-');
        category = 'no_cookies';
      } else if (!usePhone && device === laptopDevice && rng.chance(0.004)) {
        // Cookies cleared, browser reinstalled or another browser installed: a new device id from now on.
        laptopDevice = rng.id('dev-');
        if (rng.chance(0.3)) laptopAgent = { os: laptopAgent.os, browser: randomBrowserFor(rng, laptopAgent.os) };
        agent = laptopAgent;
        device = laptopDevice;
        category = 'lost_cookie';
      } else if (rng.chance(0.003)) {
        device = rng.id('dev-');
        category = 'private_window';
      }
      const sessionId = rng.id('sess-');
      const login = context(world, user.id, time, net, agent, device);
      login.sessionId = sessionId;
      events.push({ kind: 'legit', category, accountId: user.id, context: login });
      // Half the sign-ins open an app that refreshes its tokens every few minutes while in use.
      if (!rng.chance(usePhone ? 0.6 : 0.4)) continue;
      const refreshes = 1 + rng.int(10);
      let t = time;
      let at = net;
      // A phone on the mobile network gets a new carrier address at nearly every refresh (carrier NAT),
      // and one on home Wi-Fi may leave the house with the app open.
      const hopping = usePhone && (category === 'mobile' || (category === 'home' && rng.chance(0.3)));
      for (let r = 0; r < refreshes; r++) {
        t += (5 + rng.int(10)) * 60_000;
        if (hopping && (category === 'mobile' || r > 0) && rng.chance(0.9)) at = rng.pick(carrierHere(user.home));
        const refresh = context(world, user.id, t, at, agent, device);
        refresh.type = 'refresh';
        refresh.sessionId = sessionId;
        refresh.accessTokenTtlSeconds = 300;
        delete refresh.outcome;
        const kind: LegitCategory = hopping ? 'refresh_phone_hopping' : usePhone ? 'refresh_phone' : 'refresh_laptop';
        events.push({ kind: 'legit', category: kind, accountId: user.id, context: refresh });
      }
      busyUntil = t;
      user.sessions.push({ id: sessionId, lastRefreshAt: t, agent, device });
    }
  }
  return events;
}

function attackerHourUtc(rng: Rng, origin: City): number {
  // Attackers work in their own daytime.
  return ((rng.normal(15, 4) - origin.utc) % 24 + 24) % 24;
}

function attacks(world: World, user: UserState, days: number, types: readonly AttackCategory[]): SyntheticEvent[] {
  const { rng } = world;
  const out: SyntheticEvent[] = [];
  for (const type of types) {
    const day = 14 + rng.int(Math.max(1, days - 14));
    const dayStart = EPOCH + day * DAY;
    let ctx: RiskContext;
    let extra: Pick<SyntheticEvent, 'failuresFromIp' | 'failuresOfAccount'> = {};
    switch (type) {
      case 'foreign': {
        const origin = rng.pick(CITIES.filter((c) => c.country !== user.home.country));
        const net = world.plan.allocate(origin, rng.pick([20, 50, 100]));
        ctx = context(world, user.id, dayStart + attackerHourUtc(rng, origin) * 3_600_000, net, randomDesktopAgent(rng), rng.id('dev-'));
        break;
      }
      case 'vpn_same_country': {
        const origin = rng.pick(CITIES.filter((c) => c.country !== user.home.country));
        const net = rng.pick(world.vpnExits.get(user.home.country)!);
        ctx = context(world, user.id, dayStart + attackerHourUtc(rng, origin) * 3_600_000, net, randomDesktopAgent(rng), rng.id('dev-'));
        break;
      }
      case 'same_city_browser':
      case 'same_city_exact_ua':
      case 'cookie_theft': {
        // A residential proxy in the victim's city; 3 in 10 on a /24 the victim has used by then.
        const careful = type !== 'same_city_browser';
        const hour = careful ? localHourDraw(rng, user) : rng.normal(14, 4);
        const time = dayStart + (hour - user.home.utc) * 3_600_000;
        const used = user.homeNets.filter((h) => h.since <= time);
        const net = used.length > 0 && rng.chance(0.3) ? rng.pick(used).net : rng.pick(world.isp.get(user.home.name)!);
        // The victim's browser family, usually the OS too; a careful attacker copies the whole string.
        const os = careful || rng.chance(0.7) ? user.laptop.os : randomDesktopAgent(rng).os;
        const agent: Agent = { browser: os === user.laptop.os || user.laptop.browser !== 'Safari' ? user.laptop.browser : 'Chrome', os: os as OsFamily };
        ctx = context(world, user.id, time, net, agent, type === 'cookie_theft' ? user.laptopDevice : rng.id('dev-'));
        break;
      }
      case 'token_theft': {
        // A stolen refresh token used from the attacker's machine, from a residential address in the victim's country.
        const city = rng.pick(citiesIn(user.home.country));
        const net = rng.pick(world.isp.get(city.name)!);
        const time = dayStart + (rng.normal(14, 4) - user.home.utc) * 3_600_000;
        const agent = rng.chance(0.5) ? user.laptop : randomDesktopAgent(rng);
        ctx = {
          ...context(world, user.id, time, net, agent, rng.chance(0.5) ? rng.id('dev-') : undefined, LEGIT_CLIENT),
          type: 'refresh',
          sessionId: rng.id('sess-'),
          sessionDeviceId: user.laptopDevice,
          sessionUserAgent: userAgentString(user.laptop, time - 3_600_000),
          lastRefreshAt: time - 600_000 - rng.int(3_600_000),
          accessTokenTtlSeconds: 300,
        };
        delete ctx.outcome;
        break;
      }
      case 'token_cookie_other_city':
      case 'token_cookie_same_city': {
        // An info-stealer took the refresh token and what binds it (cookie, DPoP key) from one of the
        // victim's app sessions; it is replayed minutes after the victim's last refresh, exact agent.
        // The evaluation fills in the session's binding as the server would.
        const others = citiesIn(user.home.country).filter((c) => c !== user.home);
        const city = type === 'token_cookie_same_city' ? user.home : others.length > 0 ? rng.pick(others) : undefined;
        const session = user.sessions.length > 0 ? rng.pick(user.sessions) : undefined;
        if (!city || !session) continue;
        const time = session.lastRefreshAt + (2 + rng.int(28)) * 60_000;
        ctx = { ...context(world, user.id, time, rng.pick(world.isp.get(city.name)!), session.agent, session.device), type: 'refresh', sessionId: session.id, accessTokenTtlSeconds: 300 };
        delete ctx.outcome;
        break;
      }
      case 'stuffing': {
        // A combo list run from one address: dozens of failures on other accounts in the minutes before.
        const origin = rng.chance(0.5) ? rng.pick(citiesIn(user.home.country)) : rng.pick(CITIES);
        const net = world.plan.allocate(origin, 50);
        const time = dayStart + attackerHourUtc(rng, origin) * 3_600_000;
        ctx = context(world, user.id, time, net, randomDesktopAgent(rng), rng.chance(0.5) ? rng.id('dev-') : undefined);
        extra = { failuresFromIp: Array.from({ length: 20 + rng.int(200) }, (_, i) => time - (i + 1) * 3_000) };
        break;
      }
      case 'distributed_stuffing': {
        // One try per address, from home routers all over the victim's country: no address repeats.
        const city = rng.pick(citiesIn(user.home.country));
        const time = dayStart + attackerHourUtc(rng, city) * 3_600_000;
        ctx = context(world, user.id, time, rng.pick(world.isp.get(city.name)!), randomDesktopAgent(rng), rng.chance(0.5) ? rng.id('dev-') : undefined);
        extra = rng.chance(0.5) ? { failuresOfAccount: Array.from({ length: 1 + rng.int(4) }, (_, i) => time - (i + 1) * 600_000) } : {};
        break;
      }
    }
    out.push({ kind: 'attack', category: type, accountId: user.id, context: ctx, ...extra });
  }
  return out;
}

export const ATTACK_TYPES: readonly AttackCategory[] = [
  'foreign', 'vpn_same_country', 'stuffing', 'distributed_stuffing', 'same_city_browser', 'same_city_exact_ua', 'cookie_theft',
  'token_theft', 'token_cookie_other_city', 'token_cookie_same_city',
];

/** Generates users, their legitimate events and one attack of each type per user, in time order. */
export function generateSyntheticWorld(options: GenerateOptions): SyntheticWorld {
  const rng = new Rng(options.seed);
  const world = buildWorld(rng);
  const users: UserState[] = [];
  const events: SyntheticEvent[] = [];
  for (let i = 0; i < options.users; i++) {
    const user = makeUser(world, i, options.days);
    users.push(user);
    events.push(...legitEvents(world, user, options.days));
    events.push(...attacks(world, user, options.days, ATTACK_TYPES));
  }
  events.sort((a, b) => a.context.time - b.context.time || (a.accountId < b.accountId ? -1 : a.accountId > b.accountId ? 1 : 0));
  const publicUsers = users.map((u): SyntheticUser => {
    const user: SyntheticUser = { id: u.id, home: u.home, laptop: u.laptop, laptopDevice: u.laptopDevice };
    if (u.phone) user.phone = u.phone;
    if (u.phoneDevice) user.phoneDevice = u.phoneDevice;
    return user;
  });
  return { world, users: publicUsers, events };
}
