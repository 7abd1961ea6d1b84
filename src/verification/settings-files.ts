/**
 * The files the continuous check reads: the risk policy, the operator's CIDR lists, the access
 * policy (and the trusted Shared Signals transmitters, reloaded with them). Read and
 * validated at start (a bad file stops start-up naming its setting) and again on SIGHUP (a bad
 * file is reported and the running version kept).
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { ConfigError, type Config } from '../config/index.ts';
import { compileNetworkLists, parseCidr, parsePolicy, RiskPolicyError, type RiskPolicy } from '../risk/index.ts';
import { loadPosturePolicy, PosturePolicyError, type PosturePolicy } from '../devices/index.ts';
import { loadTransmitters, type TrustedTransmitter } from '../ssf/transmitters.ts';
import type { PolicySet } from '../policy/index.ts';
import { loadAccessPolicy } from './access-policy-files.ts';
import { loadElevationSettings, ElevationSettingsError, type ElevationSettings } from '../elevation/index.ts';

export const DEFAULT_RISK_POLICY_PATH = fileURLToPath(new URL('../../config/risk-policy.json', import.meta.url));

/** Reads and validates the risk policy named by VIGIL_RISK_POLICY (the shipped one when unset). */
export function loadRiskPolicy(path = DEFAULT_RISK_POLICY_PATH): RiskPolicy {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigError(`VIGIL_RISK_POLICY: cannot read ${path}: ${(err as Error).message}`);
  }
  try {
    return parsePolicy(text);
  } catch (err) {
    if (err instanceof RiskPolicyError) throw new ConfigError(`VIGIL_RISK_POLICY: ${path}: ${err.message}`);
    throw err;
  }
}

/**
 * Reads the operator's lists (`tag=path`): one address or CIDR range per line, `#` starts a
 * comment. A line that is neither stops with its file and line number.
 */
export function loadNetworkLists(entries: readonly string[]): { tags: (ip: string) => string[]; sizes: Record<string, number> } {
  const lists: Record<string, string[]> = {};
  for (const entry of entries) {
    const at = entry.indexOf('=');
    const tag = entry.slice(0, at);
    const path = entry.slice(at + 1);
    let text: string;
    try {
      text = readFileSync(path, 'utf8');
    } catch (err) {
      throw new ConfigError(`VIGIL_NETWORK_LISTS: cannot read the "${tag}" list ${path}: ${(err as Error).message}`);
    }
    const cidrs = (lists[tag] ??= []);
    text.split(/\r?\n/).forEach((raw, index) => {
      const line = raw.replace(/#.*$/, '').trim();
      if (line === '') return;
      try {
        parseCidr(line);
      } catch (err) {
        throw new ConfigError(`VIGIL_NETWORK_LISTS: ${path} line ${index + 1}: ${(err as Error).message}`);
      }
      cidrs.push(line);
    });
  }
  const sizes = Object.fromEntries(Object.entries(lists).map(([tag, cidrs]) => [tag, cidrs.length]));
  return { tags: compileNetworkLists(lists), sizes };
}

/** Everything SIGHUP reloads, read together so that a reload applies all or nothing. */
export interface PolicyFiles {
  risk: RiskPolicy;
  posture: PosturePolicy;
  networkTags: (ip: string) => string[];
  networkListSizes: Record<string, number>;
  /** The Shared Signals transmitters whose SETs Vigil accepts. */
  transmitters: TrustedTransmitter[];
  /** The access policy deciding what tokens may carry; undefined with VIGIL_ACCESS_POLICY=off. */
  access: PolicySet | undefined;
  /** Elevatable roles and break-glass accounts. */
  elevation: ElevationSettings;
}

/** Reads and validates VIGIL_ELEVATION_FILE (nothing elevatable when unset). */
export function loadElevationFile(config: Pick<Config, 'VIGIL_ELEVATION_FILE'>): ElevationSettings {
  try {
    return loadElevationSettings(config.VIGIL_ELEVATION_FILE);
  } catch (err) {
    if (err instanceof ElevationSettingsError) throw new ConfigError(`VIGIL_ELEVATION_FILE: ${err.message}`);
    throw err;
  }
}

export function loadPolicyFiles(config: Config): PolicyFiles {
  let posture: PosturePolicy;
  try {
    posture = loadPosturePolicy(config.VIGIL_POSTURE_POLICY);
  } catch (err) {
    if (err instanceof PosturePolicyError) throw new ConfigError(`VIGIL_POSTURE_POLICY: ${err.message}`);
    throw err;
  }
  const lists = loadNetworkLists(config.VIGIL_NETWORK_LISTS);
  const transmitters = loadTransmitters(config.VIGIL_SSF_TRANSMITTERS, { issuer: config.ISSUER, maxAgeSeconds: config.VIGIL_SSF_RECEIVE_MAX_AGE_SECONDS });
  const access = loadAccessPolicy(config.VIGIL_ACCESS_POLICY);
  const elevation = loadElevationFile(config);
  return { risk: loadRiskPolicy(config.VIGIL_RISK_POLICY), posture, networkTags: lists.tags, networkListSizes: lists.sizes, transmitters, access, elevation };
}
