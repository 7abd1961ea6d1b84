import geoip from 'geoip-lite';
import { isPrivateOrReserved } from '../risk/index.ts';
import type { GeoLocation } from '../risk/index.ts';

/**
 * Where an address is, from geoip-lite's bundled database (loaded once, in memory). Private and
 * reserved addresses, and addresses without a record, have no place: the risk engine treats
 * them as unknown rather than trusting or punishing them.
 */
export function lookupGeo(ip: string): GeoLocation | undefined {
  if (isPrivateOrReserved(ip)) return undefined;
  const found = geoip.lookup(ip);
  if (!found || !found.country || !Array.isArray(found.ll)) return undefined;
  return {
    country: found.country,
    region: found.region || undefined,
    city: found.city || undefined,
    lat: found.ll[0],
    lon: found.ll[1],
    accuracyKm: found.area || 1000,
  };
}
