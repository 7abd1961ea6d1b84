/**
 * Device: at login, a device the account has not used — with any other deviation (a network the
 * account has not used lately, a browser it has not used, an hour it does not sign in at) it
 * counts in full; alone, on a network the account uses, it is weaker (a new phone at home) unless
 * the person's devices are stable — or no device at all where the account normally has one; at any
 * event, the device or user agent changing within one session (a refresh token used somewhere
 * else), and the device's posture (non-compliant, stale report).
 */
import { accountTimezone, localHour } from './history.ts';
import { ipPrefix } from './ip.ts';
import { DEFAULT_SCORING, type ScoringConfig } from './scoring.ts';
import type { ParsedUserAgent, RiskContext, RiskHistory, Signal } from './types.ts';
import { describeUserAgent, parseUserAgent } from './ua.ts';

function shortId(id: string): string {
  return id.length > 12 ? `${id.slice(0, 8)}…` : id;
}

/** Browser family, OS family and device type differ (versions may change with updates). */
export function agentChanged(a: ParsedUserAgent, b: ParsedUserAgent): boolean {
  return a.browser !== b.browser || a.os !== b.os || a.deviceType !== b.deviceType;
}

const DAY_MS = 86_400_000;

/**
 * What else about a sign-in on a new device departs from the account's habits: a network (/24,
 * /48) it has not used within `recentNetworkDays`, or an hour of the day (± 1 h) it has not
 * signed in at (once it has `minHistoryForHabits` sign-ins). A browser the account has not used
 * is not one: a person's second device (a phone, a work computer) nearly always brings one, and a
 * careful attacker copies the victim's.
 */
export function loginDeviations(ctx: RiskContext, history: RiskHistory, config: ScoringConfig['device'] = DEFAULT_SCORING.device): string[] {
  const out: string[] = [];
  const stats = history.accountStats;
  if (ctx.ipIsUser !== false) {
    const prefix = ipPrefix(ctx.ip);
    if ((stats.counts.ip.get(prefix) ?? 0) === 0) out.push(`on a network it has not used (${prefix})`);
    else {
      let lastSeen: number | undefined;
      for (let i = history.accountEvents.length - 1; i >= 0 && lastSeen === undefined; i--) {
        const e = history.accountEvents[i];
        if (e.ipPrefix === prefix && e.time <= ctx.time) lastSeen = e.time;
      }
      const days = lastSeen === undefined ? undefined : Math.floor((ctx.time - lastSeen) / DAY_MS);
      if (days === undefined || days > config.recentNetworkDays) {
        out.push(`on a network it last used ${days === undefined ? 'long ago' : `${days} days ago`} (${prefix})`);
      }
    }
  }
  if (stats.total >= config.minHistoryForHabits) {
    const hour = localHour(ctx.time, accountTimezone(history, ctx.ipIsUser === false ? undefined : ctx.geo?.lon));
    const hours = stats.counts.hour;
    const near = (hours.get(String(hour)) ?? 0) + (hours.get(String((hour + 23) % 24)) ?? 0) + (hours.get(String((hour + 1) % 24)) ?? 0);
    if (near === 0) out.push(`at ${String(hour).padStart(2, '0')}:00, an hour it does not sign in at`);
  }
  return out;
}

/**
 * Per-person calibration: a person whose sign-ins nearly always come from devices already seen
 * (at most `stableDeviceShare` of the recent ones on a device new at the time, over at least
 * `minHistoryForHabits`) is challenged for a new device even with nothing else unusual; a person
 * who often shows up on new browsers (cookies cleared, shared computers) is not. Returns the
 * evidence in words, or undefined.
 */
export function stableDevices(history: RiskHistory, config: ScoringConfig['device'] = DEFAULT_SCORING.device): string | undefined {
  const events = history.accountEvents;
  let withDevice = 0;
  let firstSightings = 0;
  const seen = new Set<string>();
  for (const e of events) {
    if (e.deviceId === undefined) continue;
    withDevice++;
    if (!seen.has(e.deviceId)) {
      seen.add(e.deviceId);
      firstSightings++;
    }
  }
  if (withDevice < config.minHistoryForHabits) return undefined;
  // The devices in use when the window starts are not new: count only those that came later.
  const later = Math.max(0, firstSightings - 1);
  return later / withDevice <= config.stableDeviceShare ? `${seen.size} device${seen.size === 1 ? '' : 's'} in its last ${withDevice} sign-ins` : undefined;
}

export function deviceSignals(ctx: RiskContext, history: RiskHistory, config: ScoringConfig['device'] = DEFAULT_SCORING.device): Signal[] {
  const signals: Signal[] = [];
  const known = history.accountStats.counts.device;
  let withDevice = 0;
  for (const c of known.values()) withDevice += c;

  // At a refresh the device is judged against the session it started on (below); at a login,
  // against the account's devices.
  if (ctx.type !== 'login') {
    // nothing here
  } else if (ctx.deviceId !== undefined) {
    if (known.size > 0 && !known.has(ctx.deviceId)) {
      const devices = `${known.size} known device${known.size === 1 ? '' : 's'}`;
      const others = loginDeviations(ctx, history, config);
      const stable = others.length === 0 ? stableDevices(history, config) : undefined;
      const contribution = others.length > 0 || stable ? config.unknownPoints : config.unknownOnKnownNetworkPoints;
      const why = others.length > 0
        ? `, and ${others.join(', and ')}`
        : stable
          ? `, on a network the account uses; this account rarely changes devices (${stable})`
          : ', on a network the account uses, nothing else unusual';
      signals.push({ name: 'unknown_device', contribution, reason: `Device ${shortId(ctx.deviceId)} not seen on this account before (${devices})${why}` });
    }
  } else if (withDevice > 0) {
    signals.push({
      name: 'no_device',
      contribution: config.missingPoints,
      reason: `No device identifier presented, while ${withDevice} of this account's ${history.accountStats.total} recorded sign-ins came from known devices`,
    });
  }

  if (ctx.sessionDeviceId !== undefined && ctx.deviceId !== ctx.sessionDeviceId) {
    signals.push({
      name: 'session_device_changed',
      contribution: config.sessionDeviceChangedPoints,
      reason: ctx.deviceId === undefined
        ? `Session started on device ${shortId(ctx.sessionDeviceId)} but this request presents no device: the refresh token may be in someone else's hands`
        : `Session started on device ${shortId(ctx.sessionDeviceId)} but this request comes from device ${shortId(ctx.deviceId)}: the refresh token may be in someone else's hands`,
    });
  }
  if (ctx.sessionUserAgent !== undefined && ctx.ipIsUser !== false) {
    const started = parseUserAgent(ctx.sessionUserAgent);
    const now = ctx.ua ?? parseUserAgent(ctx.userAgent);
    if (agentChanged(started, now)) {
      signals.push({
        name: 'session_agent_changed',
        contribution: config.sessionAgentChangedPoints,
        reason: `User agent changed within the session: ${describeUserAgent(started)} → ${describeUserAgent(now)}`,
      });
    }
  }

  const posture = ctx.devicePosture;
  if (posture) {
    if (!posture.compliant) {
      signals.push({
        name: 'device_noncompliant',
        contribution: config.nonCompliantPoints,
        reason: `Device does not meet the posture policy${posture.reasons.length > 0 ? `: ${posture.reasons.join(', ')}` : ''}`,
      });
    }
    if (posture.stale) {
      signals.push({ name: 'posture_stale', contribution: config.stalePoints, reason: 'Device posture report is older than the policy allows' });
    }
  }
  return signals;
}
