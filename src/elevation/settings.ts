/**
 * The elevation file (`VIGIL_ELEVATION_FILE`, JSON): per elevatable role its longest duration,
 * who approves it and the sign-in its activation needs, and the break-glass accounts. Validated
 * at start and on SIGHUP; without a file nothing is elevatable and nobody is break-glass.
 */
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { ACR, ACR_VALUES } from '../config/index.ts';
import { emailSchema, roleSchema } from '../identity/index.ts';

/** The shortest elevation anyone may ask for. */
export const MIN_ELEVATION_SECONDS = 60;
/** How fresh an approver's sign-in must be, unless the role says otherwise. */
export const DEFAULT_APPROVAL_MAX_AGE_SECONDS = 600;

const acrSchema = z.enum(ACR_VALUES as [string, ...string[]]);

const approvalSchema = z.object({
  /** Approvers hold this role (standing or elevated). */
  approvers_role: roleSchema,
  /** How many different approvers it takes. */
  count: z.number().int().min(1).max(10).default(1),
  /** The sign-in an approval needs, and how old it may be (seconds since auth_time). */
  acr: acrSchema.default(ACR.phishingResistant),
  max_age_seconds: z.number().int().min(30).max(86_400).default(DEFAULT_APPROVAL_MAX_AGE_SECONDS),
}).strict();

const roleRuleSchema = z.object({
  max_minutes: z.number().int().min(1).max(7 * 24 * 60),
  approval: z.union([z.literal('none'), approvalSchema]).default('none'),
  /** The sign-in a token must come from to carry the role while elevated. */
  min_acr: acrSchema.default(ACR.twoFactor),
}).strict();

export const elevationFileSchema = z.object({
  roles: z.record(roleSchema, roleRuleSchema).default({}),
  break_glass: z.array(emailSchema).max(100).default([]),
}).strict();

export type RoleRule = z.infer<typeof roleRuleSchema>;
export type ApprovalRule = z.infer<typeof approvalSchema>;

export interface ElevationSettings {
  roles: ReadonlyMap<string, RoleRule>;
  /** Lower-cased emails of the break-glass accounts. */
  breakGlass: ReadonlySet<string>;
}

export const NO_ELEVATION: ElevationSettings = { roles: new Map(), breakGlass: new Set() };

export class ElevationSettingsError extends Error {
  override name = 'ElevationSettingsError';
}

export function parseElevationSettings(text: string): ElevationSettings {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new ElevationSettingsError(`not JSON: ${(err as Error).message}`);
  }
  const parsed = elevationFileSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new ElevationSettingsError(`${issue.path.join('.') || '(top level)'}: ${issue.message}`);
  }
  return {
    roles: new Map(Object.entries(parsed.data.roles)),
    breakGlass: new Set(parsed.data.break_glass.map((e) => e.toLowerCase())),
  };
}

/** Reads and validates the file; throws ElevationSettingsError naming the problem. */
export function loadElevationSettings(path: string | undefined): ElevationSettings {
  if (!path) return NO_ELEVATION;
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ElevationSettingsError(`cannot read ${path}: ${(err as Error).message}`);
  }
  try {
    return parseElevationSettings(text);
  } catch (err) {
    throw new ElevationSettingsError(`${path}: ${(err as Error).message}`);
  }
}
