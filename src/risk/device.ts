/**
 * Device: at login, a device the account has not used (weaker on a network the account has
 * used: a new phone at home) or no device at all where the account normally has one; at any
 * event, the device or user agent changing within one session (a refresh token used somewhere
 * else), and the device's posture (non-compliant, stale report).
 */
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
      const knownNetwork = ctx.ipIsUser !== false && (history.accountStats.counts.ip.get(ipPrefix(ctx.ip)) ?? 0) > 0;
      const devices = `${known.size} known device${known.size === 1 ? '' : 's'}`;
      signals.push({
        name: 'unknown_device',
        contribution: knownNetwork ? config.unknownOnKnownNetworkPoints : config.unknownPoints,
        reason: knownNetwork
          ? `Device ${shortId(ctx.deviceId)} not seen on this account before (${devices}), on a network the account has used`
          : `Device ${shortId(ctx.deviceId)} not seen on this account before (${devices}), on a network it has not used`,
      });
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
