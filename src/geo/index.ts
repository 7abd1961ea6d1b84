import { isPrivateOrReserved } from '../risk/index.ts';
import type { GeoLocation } from '../risk/index.ts';
import { TtlCache } from '../store/ttl-cache.ts';
import { GeoDatabase } from './geo-database.ts';

export { GeoDatabase, geoDataDir, type GeoRecord } from './geo-database.ts';

let database: GeoDatabase | undefined;
// The same addresses come back at every token refresh.
const recent = new TtlCache<string, GeoLocation | undefined>(60 * 60 * 1000, 10_000);

/**
 * Opens geoip-lite's city database (GEODATADIR, else the package's data) if it is not open yet.
 * The server calls it at start so that a missing file stops the start; lookupGeo opens it otherwise.
 */
export function openGeoDatabase(): GeoDatabase {
  database ??= GeoDatabase.open();
  return database;
}

export function closeGeoDatabase(): void {
  database?.close();
  database = undefined;
  recent.forget();
}

/**
 * Where an address is, from geoip-lite's city database. Private and reserved addresses, and
 * addresses without a record, have no place: the risk engine treats them as unknown rather than
 * trusting or punishing them.
 */
export function lookupGeo(ip: string): GeoLocation | undefined {
  if (isPrivateOrReserved(ip)) return undefined;
  return recent.get(ip, () => {
    const found = openGeoDatabase().lookup(ip);
    if (!found || !found.country) return undefined;
    // Shared by every caller that asks for this address while it is cached.
    return Object.freeze({
      country: found.country,
      region: found.region || undefined,
      city: found.city || undefined,
      lat: found.lat,
      lon: found.lon,
      accuracyKm: found.areaKm || 1000,
    });
  });
}
