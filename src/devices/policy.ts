/**
 * The posture policy (`config/posture-policy.json`) and its evaluation: pure, no I/O besides
 * `loadPosturePolicy`, no clock (the caller passes the time).
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import type { DevicePosture } from '../risk/index.ts';

export const DEFAULT_POSTURE_POLICY_PATH = fileURLToPath(new URL('../../config/posture-policy.json', import.meta.url));

/** The posture fields every report carries (signed by the device, or sent by an MDM client). */
export const postureFieldsSchema = z.object({
  os: z.string().min(1).max(64),
  osVersion: z.string().min(1).max(64),
  diskEncryption: z.boolean(),
  firewall: z.boolean(),
  screenLock: z.boolean(),
  edrRunning: z.boolean(),
  jailbroken: z.boolean(),
});
export type PostureFields = z.infer<typeof postureFieldsSchema>;

export const POSTURE_CHECKS = ['diskEncryption', 'firewall', 'screenLock', 'edrRunning', 'notJailbroken'] as const;
export type PostureCheck = (typeof POSTURE_CHECKS)[number];

const versionSchema = z.string().regex(/^\d+(\.\d+)*$/, 'must be a dotted numeric version such as 14.2');

export const posturePolicySchema = z.object({
  version: z.literal(1),
  /** A report older than this is stale. */
  freshnessSeconds: z.number().int().min(60).max(90 * 86400),
  /** How far in the future a report's time may be (device clocks drift). */
  maxClockSkewSeconds: z.number().int().min(0).max(600).default(60),
  /** Checks that must pass for the device to be compliant. */
  requiredChecks: z.array(z.enum(POSTURE_CHECKS)).default([...POSTURE_CHECKS]),
  /** Minimum OS version per OS name (names compared without regard to case). */
  minOsVersions: z.record(z.string().min(1), versionSchema).default({}),
  /** Whether an OS not named in `minOsVersions` may be compliant. */
  allowOtherOs: z.boolean().default(false),
}).strict();
export type PosturePolicy = z.infer<typeof posturePolicySchema>;

export class PosturePolicyError extends Error {
  override name = 'PosturePolicyError';
}

export function parsePosturePolicy(value: unknown, source = 'posture policy'): PosturePolicy {
  const result = posturePolicySchema.safeParse(value);
  if (!result.success) {
    const issues = result.error.issues.map((i) => `${i.path.map(String).join('.') || '(root)'}: ${i.message}`).join('; ');
    throw new PosturePolicyError(`${source} is invalid: ${issues}`);
  }
  return result.data;
}

/** Reads and validates the policy file; throws `PosturePolicyError` with a readable message. */
export function loadPosturePolicy(path = DEFAULT_POSTURE_POLICY_PATH): PosturePolicy {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new PosturePolicyError(`cannot read the posture policy ${path}: ${(err as Error).message}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new PosturePolicyError(`the posture policy ${path} is not valid JSON: ${(err as Error).message}`);
  }
  return parsePosturePolicy(json, `the posture policy ${path}`);
}

/** Compares dotted numeric versions; undefined when `a` is not one (e.g. `14.2-beta`). */
export function compareVersions(a: string, b: string): number | undefined {
  const parse = (v: string) => (/^\d+(\.\d+)*$/.test(v.trim()) ? v.trim().split('.').map(Number) : undefined);
  const x = parse(a);
  const y = parse(b);
  if (!x || !y) return undefined;
  for (let i = 0; i < Math.max(x.length, y.length); i++) {
    const d = (x[i] ?? 0) - (y[i] ?? 0);
    if (d !== 0) return Math.sign(d);
  }
  return 0;
}

const FAILING: Record<PostureCheck, { fails: (r: PostureFields) => boolean; reason: string }> = {
  diskEncryption: { fails: (r) => !r.diskEncryption, reason: 'disk not encrypted' },
  firewall: { fails: (r) => !r.firewall, reason: 'firewall off' },
  screenLock: { fails: (r) => !r.screenLock, reason: 'no screen lock' },
  edrRunning: { fails: (r) => !r.edrRunning, reason: 'EDR not running' },
  notJailbroken: { fails: (r) => r.jailbroken, reason: 'jailbroken or rooted' },
};

/** A trusted Shared Signals transmitter's verdict on a device (CAEP device-compliance-change). */
export interface ExternalCompliance {
  compliant: boolean;
  /** The transmitter's issuer. */
  issuer: string;
  /** Epoch ms: when the transmitter says it happened. */
  at: number;
}

/**
 * The posture of a device from its latest report (`undefined`: none yet) at `now` (epoch ms).
 * Compliance is judged on the checks and the OS version of the last report; `stale` says that
 * report is older than the policy's freshness (the risk engine weighs the two separately). A
 * transmitter's not-compliant verdict makes the device not compliant whatever it reports itself
 * (a device cannot overrule its management system); a compliant verdict only withdraws it.
 */
export function evaluatePosture(report: PostureFields | undefined, reportedAt: number | undefined, now: number, policy: PosturePolicy, external?: ExternalCompliance): DevicePosture {
  const verdict = external && !external.compliant ? [`not compliant according to ${external.issuer}`] : [];
  if (!report || reportedAt === undefined) return { compliant: false, stale: true, reasons: ['no posture report', ...verdict] };
  const reasons: string[] = [...verdict];
  for (const check of policy.requiredChecks) if (FAILING[check].fails(report)) reasons.push(FAILING[check].reason);
  const osKey = Object.keys(policy.minOsVersions).find((k) => k.toLowerCase() === report.os.trim().toLowerCase());
  if (osKey === undefined) {
    if (!policy.allowOtherOs) reasons.push(`${report.os} is not an allowed operating system`);
  } else {
    const min = policy.minOsVersions[osKey];
    const cmp = compareVersions(report.osVersion, min);
    if (cmp === undefined) reasons.push(`${osKey} version "${report.osVersion}" is not a version Vigil can compare`);
    else if (cmp < 0) reasons.push(`${osKey} ${report.osVersion} is older than the minimum ${min}`);
  }
  const stale = now - reportedAt > policy.freshnessSeconds * 1000;
  return { compliant: reasons.length === 0, stale, reasons };
}
