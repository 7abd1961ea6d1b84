/**
 * The numbers behind every signal: thresholds and the points each piece of evidence adds.
 * A policy file may override any of them (`scoring` in `config/risk-policy.json`).
 */

export interface FailureWindow {
  /** Failures counted within this many minutes before the event. */
  windowMinutes: number;
  /** Points for at least `atLeast` failures; the highest step reached counts. */
  steps: { atLeast: number; points: number }[];
}

export interface ScoringConfig {
  travel: {
    /**
     * Faster than this (after subtracting both accuracy radii) is impossible where either place is
     * coarse (see `preciseAccuracyKm`). Airlock: 1000 km/h.
     */
    impossibleKmh: number;
    /**
     * Door to door: between two precise places, the trip must be possible over the ground
     * (`groundKmh`, train or car) or by air (`flightOverheadMinutes` to reach, board and leave the
     * airports, then `flightKmh`), whichever is quicker; sooner is impossible travel. A flight
     * needs hours, not minutes, whatever its speed.
     */
    groundKmh: number;
    flightKmh: number;
    flightOverheadMinutes: number;
    /** Both accuracy radii below this: the places are precise enough to judge door to door. */
    preciseAccuracyKm: number;
    impossiblePoints: number;
    /** Faster than this is possible only by air with no time on the ground. */
    fastKmh: number;
    fastPoints: number;
    /** Distances at or below this (after the radii) are "the same place". Airlock: 1 km. */
    minDistanceKm: number;
    /** Farther than this from every place the account has used is unusual. */
    unusualKm: number;
    /** Points at `unusualKm`, growing by `unusualPointsPerDoubling` per doubling, capped. */
    unusualBasePoints: number;
    unusualPointsPerDoubling: number;
    unusualMaxPoints: number;
    /** Located events the account needs before "unusual distance" applies. */
    minHistory: number;
    /** Points when the address has no location: small, neither trusted nor punished. */
    unknownLocationPoints: number;
    /**
     * Network tags whose addresses' locations are not the person's (VPN exits): past events from
     * them are not used as where the person was (travel is still measured *to* one, so that an
     * anonymiser can never lower the score).
     */
    hiddenLocationTags: string[];
    /**
     * Successful events within the same area (see `minDistanceKm`) that make a place familiar.
     * Impossible travel *to a familiar place* (or a known /24) is not held against the event:
     * it is how home-routed mobile roaming and mislocated broadband look.
     */
    familiarAfter: number;
  };
  behaviour: {
    /** The likelihood ratio maps to `maxPoints · (1 − exp(−max(0, log2 R + offsetBits) / scaleBits))`. */
    maxPoints: number;
    offsetBits: number;
    scaleBits: number;
    /** Pseudo-events of population behaviour mixed into every account's model (population prior). */
    priorEvents: number;
    /** A value never seen for the account: account likelihood = population likelihood / this (Freeman: 4). */
    unseenDivisor: number;
    /** Bounds of Freeman's p(attack on u) / p(u logs in) factor. */
    attackFactorMin: number;
    attackFactorMax: number;
    /** Exponent of each hierarchy's likelihood ratio (1 = full weight). */
    exponents: { network: number; agent: number; device: number; hour: number };
    /** First sign-in from a country the account has not used (after `minHistory` located events). */
    newCountryPoints: number;
    minHistory: number;
    /** An account that has signed in from this many countries travels: a new one is not held against it. */
    travellerCountries: number;
  };
  device: {
    /** A device id the account has not used before (the account has known devices), on a network it has not used. */
    unknownPoints: number;
    /**
     * The same with nothing else unusual (a network the account uses, its browser, its hours): a new
     * phone or cleared cookies at home — unless the person's devices are stable (then `unknownPoints`).
     */
    unknownOnKnownNetworkPoints: number;
    /** A known network not used for more than this many days counts as a deviation. */
    recentNetworkDays: number;
    /** Sign-ins the account needs before its hours and device habits count. */
    minHistoryForHabits: number;
    /** At most this share of recent sign-ins on a device new at the time: the person's devices are stable. */
    stableDeviceShare: number;
    /** No device id at all, while the account normally presents one. */
    missingPoints: number;
    /** The device changed within one session: a refresh token used elsewhere. */
    sessionDeviceChangedPoints: number;
    /** Browser, OS or device type changed within one session. */
    sessionAgentChangedPoints: number;
    nonCompliantPoints: number;
    stalePoints: number;
  };
  session: {
    /**
     * A refresh whose network (/24, /48) differs from where the session was last seen, with the
     * same device and agent: a replayed stolen token — or a phone between carrier addresses. The
     * points are scaled by how rarely this person's sessions on this kind of device change network.
     */
    movedPoints: number;
    /** Share of refreshes assumed to change network before any are on record: phones and tablets, computers. */
    mobilePrior: number;
    desktopPrior: number;
    /** Weight of those assumptions, in refreshes. */
    priorWeight: number;
    /**
     * A phone's move counts as a hop (weighed by its habits) only to a network the account has
     * used or to an address located this roughly (km) or worse, as carrier addresses are.
     */
    roughAccuracyKm: number;
    /** …or to a place where the account has at least this many events. */
    familiarAfter: number;
  };
  velocity: {
    accountFailures: FailureWindow[];
    ipFailures: FailureWindow[];
    /** A refresh sooner than this fraction of the access token lifetime is unexplained. */
    rapidRefreshFraction: number;
    rapidRefreshPoints: number;
  };
  /** Points per operator network tag; negative lowers the score. Unknown tags add nothing. */
  networkTags: Record<string, number>;
}

export const DEFAULT_SCORING: ScoringConfig = {
  travel: {
    impossibleKmh: 1000,
    groundKmh: 150,
    flightKmh: 900,
    flightOverheadMinutes: 120,
    preciseAccuracyKm: 100,
    impossiblePoints: 70,
    fastKmh: 500,
    fastPoints: 25,
    minDistanceKm: 1,
    unusualKm: 300,
    unusualBasePoints: 4,
    unusualPointsPerDoubling: 3,
    unusualMaxPoints: 15,
    minHistory: 3,
    unknownLocationPoints: 5,
    hiddenLocationTags: ['anonymizer'],
    familiarAfter: 2,
  },
  behaviour: {
    maxPoints: 40,
    offsetBits: 0,
    scaleBits: 4,
    priorEvents: 2,
    unseenDivisor: 4,
    attackFactorMin: 0.25,
    attackFactorMax: 4,
    exponents: { network: 1, agent: 1, device: 0.5, hour: 0.5 },
    newCountryPoints: 10,
    minHistory: 3,
    travellerCountries: 3,
  },
  device: {
    unknownPoints: 30,
    unknownOnKnownNetworkPoints: 15,
    recentNetworkDays: 30,
    minHistoryForHabits: 20,
    stableDeviceShare: 0.1,
    missingPoints: 30,
    sessionDeviceChangedPoints: 60,
    sessionAgentChangedPoints: 45,
    nonCompliantPoints: 30,
    stalePoints: 10,
  },
  session: {
    movedPoints: 35,
    mobilePrior: 0.8,
    desktopPrior: 0.1,
    priorWeight: 2,
    roughAccuracyKm: 100,
    familiarAfter: 2,
  },
  velocity: {
    accountFailures: [
      { windowMinutes: 15, steps: [{ atLeast: 3, points: 8 }, { atLeast: 5, points: 20 }, { atLeast: 10, points: 35 }] },
      { windowMinutes: 24 * 60, steps: [{ atLeast: 20, points: 15 }, { atLeast: 50, points: 30 }] },
    ],
    ipFailures: [
      { windowMinutes: 15, steps: [{ atLeast: 10, points: 15 }, { atLeast: 50, points: 30 }] },
      { windowMinutes: 24 * 60, steps: [{ atLeast: 100, points: 20 }] },
    ],
    rapidRefreshFraction: 0.1,
    rapidRefreshPoints: 15,
  },
  networkTags: { anonymizer: 25, known_bad: 60, corporate: -20 },
};

/** Every signal name the engine can emit (network signals are `network_<tag>`). */
export const SIGNAL_NAMES = [
  'impossible_travel', 'fast_travel', 'unusual_distance', 'unknown_location', 'server_address',
  'behaviour', 'new_country', 'new_account',
  'unknown_device', 'no_device', 'session_device_changed', 'session_agent_changed', 'session_moved', 'device_noncompliant', 'posture_stale',
  'failed_logins_account', 'failed_logins_ip', 'rapid_refresh',
] as const;

export type SignalName = (typeof SIGNAL_NAMES)[number];

/** Formats a number with thousands separators, independent of the locale: 2600 → "2,600". */
export function formatInt(value: number): string {
  const sign = value < 0 ? '-' : '';
  return sign + String(Math.round(Math.abs(value))).replace(/\B(?=(\d{3})+(?!\d))/g, ',');
}

/** "11 min", "3 h 20 min", "2 days", "45 s". */
export function formatDuration(ms: number): string {
  const seconds = Math.round(Math.abs(ms) / 1000);
  if (seconds < 60) return `${seconds} s`;
  const minutes = Math.round(seconds / 60);
  if (minutes < 60) return `${minutes} min`;
  const hours = Math.floor(minutes / 60);
  if (hours < 48) return minutes % 60 === 0 ? `${hours} h` : `${hours} h ${minutes % 60} min`;
  return `${Math.round(hours / 24)} days`;
}
